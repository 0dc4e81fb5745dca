import datetime as dt

import pytest

from clients.models import ContractChange, ServiceStatus
from clients.services import end_contracts, set_service_status
from clients.tests.factories import ClientFactory, ContractFactory

pytestmark = pytest.mark.django_db


def test_a_service_status_change_is_recorded_with_who_and_why(admin_user):
    client = ClientFactory()
    set_service_status(client=client, to_status=ServiceStatus.SUSPENDED, reason="Overdue 60 days", actor=admin_user)
    client.refresh_from_db()
    assert client.service_status == "suspended"
    change = client.status_changes.get()
    assert (change.from_status, change.to_status, change.actor) == ("active", "suspended", admin_user)


def test_setting_the_same_status_again_records_nothing():
    client = ClientFactory(service_status=ServiceStatus.LIMITED)
    set_service_status(client=client, to_status=ServiceStatus.LIMITED, reason="again")
    assert client.status_changes.count() == 0


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        set_service_status(client=ClientFactory(), to_status="gone", reason="x")


def test_end_contracts_ends_running_contracts_once_and_audits_them():
    client = ClientFactory()
    running = ContractFactory(client=client, start_date=dt.date(2024, 1, 1))
    already = ContractFactory(client=client, start_date=dt.date(2024, 1, 1), end_date=dt.date(2024, 6, 1))
    assert end_contracts(client=client, on=dt.date(2026, 3, 1), reason="Collections") == 1
    assert end_contracts(client=client, on=dt.date(2026, 3, 1), reason="Collections") == 0
    running.refresh_from_db()
    already.refresh_from_db()
    assert running.end_date == dt.date(2026, 3, 1)
    assert already.end_date == dt.date(2024, 6, 1)
    assert ContractChange.objects.filter(contract=running, action="ended").count() == 1
