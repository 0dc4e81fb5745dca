"""The audit trails (contract changes, service-status changes) and the service status itself."""

from django.db import transaction

from billingone.text import clip

from ..models import Client, ContractChange, ServiceStatus, ServiceStatusChange


def record_contract_change(
    *, contract, action, detail, actor=None, line=None, source=ContractChange.Source.CONSOLE
) -> ContractChange:
    """Append one entry to a contract's audit trail (call inside the changing transaction)."""
    return ContractChange.objects.create(
        contract=contract, line=line, action=action, detail=clip(detail, 500), actor=actor, source=source
    )


@transaction.atomic
def set_service_status(*, client: Client, to_status: str, reason: str, actor=None) -> Client:
    """Move a client to another service status under a row lock; a no-op when already there."""
    if to_status not in ServiceStatus.values:
        raise ValueError(f"unknown service status {to_status!r}")
    locked = Client.objects.select_for_update().get(pk=client.pk)
    if locked.service_status != to_status:
        ServiceStatusChange.objects.create(
            client=locked, from_status=locked.service_status, to_status=to_status, reason=clip(reason, 500), actor=actor
        )
        locked.service_status = to_status
        locked.save(update_fields=["service_status", "updated_at"])
    client.service_status = locked.service_status
    return locked
