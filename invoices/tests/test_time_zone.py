"""Overdue starts the day after the due date in the organisation's time zone, not UTC's."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from clients.dates import org_today
from invoices import services
from invoices.models import InvoiceStatus as S

from .factories import billed, client_in_class

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "zone, utc_moment, overdue",
    [
        # Kiritimati is UTC+14: at 11:00 UTC on 10 March it is already 11 March there.
        ("Pacific/Kiritimati", dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC), True),
        # Pago Pago is UTC-11: at 10:00 UTC on 11 March it is still 10 March there.
        ("Pacific/Pago_Pago", dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC), False),
    ],
)
def test_overdue_starts_on_the_organisations_next_day(monkeypatch, zone, utc_moment, overdue):
    monkeypatch.setattr(timezone, "now", lambda: utc_moment)
    with override_settings(TIME_ZONE=zone):
        client = client_in_class(terms=9)
        invoice = billed(client, "100.00", on=dt.date(2026, 3, 1))  # due 10 March
        assert invoice.due_on == dt.date(2026, 3, 10)
        assert org_today() == (dt.date(2026, 3, 11) if overdue else dt.date(2026, 3, 10))
        assert invoice.status == (S.OVERDUE if overdue else S.UNPAID)
        services.recalculate_statuses()
        invoice.refresh_from_db()
        assert invoice.status == (S.OVERDUE if overdue else S.UNPAID)
