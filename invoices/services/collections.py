"""Collections: each step of a customer class's schedule fires once per delinquency episode."""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Min

from billingone.text import clip
from clients.dates import display_date, org_today
from clients.models import Client, ContractChange, ServiceStatus
from clients.services import end_contracts, set_service_status

from ..models import (
    ALLOCATION_ORDER,
    BillingProfile,
    CollectionAction,
    CollectionActionKind,
    CollectionEpisode,
    CollectionStep,
    Invoice,
    MessageKind,
    StepAction,
)
from .common import lock_client
from .email import queue_invoice_messages

log = logging.getLogger(__name__)


LIFTED = CollectionActionKind.LIFTED


def _overdue_invoices(as_of):
    """Positive, payable invoices not fully paid on a date after their due date."""
    return Invoice.objects.filter(total__gt=0, below_threshold=False, amount_paid__lt=F("total"), due_on__lt=as_of)


def run_collections(*, as_of: dt.date | None = None, client_range: tuple[int, int] | None = None) -> dict:
    """Fire the collection steps that are due, once per episode; close episodes whose overdue is paid.

    Which clients have something to do is worked out with a handful of set-based
    queries; only those clients are then locked and handled one by one.
    """
    as_of = as_of or org_today()
    scope = {}
    if client_range:
        scope = {"client_id__gte": client_range[0], "client_id__lte": client_range[1]}
    delinquent = dict(
        _overdue_invoices(as_of)
        .filter(**scope)
        .order_by()
        .values("client_id")
        .annotate(oldest=Min("due_on"))
        .values_list("client_id", "oldest")
    )
    open_episodes = set(
        CollectionEpisode.objects.filter(closed_on__isnull=True, **scope).values_list("client_id", flat=True)
    )
    fired = set(
        CollectionAction.objects.filter(
            episode__closed_on__isnull=True, step__isnull=False, **{f"episode__{k}": v for k, v in scope.items()}
        ).values_list("episode__client_id", "step_id")
    )
    class_of = dict(BillingProfile.objects.filter(**scope).values_list("client_id", "customer_class_id"))
    steps_of: dict[int, list[tuple[int, int]]] = {}
    for class_id, days, step_id in CollectionStep.objects.values_list("customer_class_id", "days_overdue", "pk"):
        steps_of.setdefault(class_id, []).append((days, step_id))

    counts = {"fired": 0, "opened": 0, "closed": 0}
    for client_id in sorted(delinquent):
        days = (as_of - delinquent[client_id]).days
        due = [
            sid for d, sid in steps_of.get(class_of.get(client_id), []) if d <= days and (client_id, sid) not in fired
        ]
        if client_id in open_episodes and not due:
            continue
        fired_now, opened = _collect_client(client_id, as_of=as_of)
        counts["fired"] += fired_now
        counts["opened"] += opened
    for client_id in sorted(open_episodes - set(delinquent)):
        with transaction.atomic():
            counts["closed"] += close_episode_if_clear(Client(pk=client_id), as_of=as_of)
    return counts


@transaction.atomic
def _collect_client(client_id: int, *, as_of: dt.date) -> tuple[int, int]:
    client = lock_client(client_id)
    oldest = _overdue_invoices(as_of).filter(client=client).order_by("due_on", *ALLOCATION_ORDER).first()
    if oldest is None:  # paid meanwhile
        return 0, 0
    episode = CollectionEpisode.objects.filter(client=client, closed_on__isnull=True).first()
    opened = 0
    if episode is None:
        episode = CollectionEpisode.objects.create(client=client, opened_on=oldest.due_on + dt.timedelta(days=1))
        opened = 1
    days = (as_of - oldest.due_on).days
    profile = BillingProfile.objects.filter(client=client).select_related("customer_class").first()
    if profile is None:
        return 0, opened
    done = set(episode.actions.values_list("step_id", flat=True))
    steps = (
        profile.customer_class.steps.filter(days_overdue__lte=days).exclude(pk__in=done).order_by("days_overdue", "id")
    )
    fired = 0
    for step in steps:
        try:
            with transaction.atomic():
                action = CollectionAction.objects.create(
                    episode=episode,
                    step=step,
                    action=step.action,
                    invoice=oldest,
                    fired_on=as_of,
                    detail=f"{step.get_action_display()}: {oldest.number} is {days} days overdue",
                )
        except IntegrityError:  # another run fired it first
            continue
        _perform(step.action, client=client, invoice=oldest, profile=profile, as_of=as_of, action=action)
        fired += 1
    return fired, opened


def _perform(kind, *, client, invoice, profile, as_of, action):
    reason = f"Collections: {invoice.number} overdue since {display_date(invoice.due_on)}"
    if kind == StepAction.RESEND:
        if profile.billing_email:
            # Through the outbox: recorded, sent once after commit, retried and swept if the worker is away.
            queue_invoice_messages([invoice.pk], kind=MessageKind.REMINDER, occasion=f"collection-action-{action.pk}")
        else:
            action.detail = clip(action.detail + " — no billing e-mail on file, nothing sent", 500)
            action.save(update_fields=["detail"])
    elif kind == StepAction.LIMIT:
        if client.service_status == ServiceStatus.ACTIVE:
            set_service_status(client=client, to_status=ServiceStatus.LIMITED, reason=reason)
    elif kind == StepAction.SUSPEND:
        if client.service_status in (ServiceStatus.ACTIVE, ServiceStatus.LIMITED):
            set_service_status(client=client, to_status=ServiceStatus.SUSPENDED, reason=reason)
    elif kind == StepAction.TERMINATE_COMMITMENTS:
        n = end_contracts(client=client, on=as_of, reason=reason, source=ContractChange.Source.COLLECTIONS)
        action.detail = clip(action.detail + f" — {n} contract(s) ended", 500)
        action.save(update_fields=["detail"])
    elif kind == StepAction.TERMINATE:
        set_service_status(client=client, to_status=ServiceStatus.TERMINATED, reason=reason)


def close_episode_if_clear(client, *, as_of: dt.date) -> int:
    """Close the client's open episode when nothing is overdue; lift limit/suspend it imposed."""
    episode = CollectionEpisode.objects.filter(client=client, closed_on__isnull=True).first()
    if episode is None:
        return 0
    client = lock_client(client)
    if _overdue_invoices(as_of).filter(client=client).exists():
        return 0
    episode.closed_on = as_of
    episode.save(update_fields=["closed_on"])
    imposed = episode.actions.filter(action__in=[StepAction.LIMIT, StepAction.SUSPEND]).exists()
    detail = "Overdue balance paid: episode closed"
    if imposed and client.service_status in (ServiceStatus.LIMITED, ServiceStatus.SUSPENDED):
        set_service_status(client=client, to_status=ServiceStatus.ACTIVE, reason="Collections: overdue balance paid")
        detail += ", service restored"
    CollectionAction.objects.create(episode=episode, step=None, action=LIFTED, fired_on=as_of, detail=detail)
    return 1
