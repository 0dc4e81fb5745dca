"""PostgreSQL: many payments for one client at once leave allocations exact."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from invoices import services
from invoices.models import Allocation, Invoice, Payment

from .factories import D, ago, billed, client_in_class


@pytest.mark.postgres
def test_twenty_threads_recording_payments_for_one_client_leave_allocations_exact(
    keep_reference_data, transactional_db
):
    client = client_in_class()
    invoices = [billed(client, "50.00", on=ago(30 - n)) for n in range(10)]  # 500.00 billed
    barrier = threading.Barrier(20)
    errors = []

    def pay(n):
        try:
            barrier.wait()
            # 20 × 30.00 = 600.00: 500.00 pays every invoice, 100.00 is left as credit.
            services.record_payment(client, amount=D("30.00"), received_on=ago(0), reference=f"T-{n}")
            # Half the threads retry their own reference: it must not pay twice.
            if n % 2:
                services.record_payment(client, amount=D("30.00"), received_on=ago(0), reference=f"T-{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Payment.objects.count() == 20
    assert Allocation.objects.aggregate(s=Sum("amount"))["s"] == D("500.00")
    assert Payment.objects.aggregate(s=Sum("unallocated"))["s"] == D("100.00")
    for inv in invoices:
        inv.refresh_from_db()
        assert (inv.amount_paid, inv.status) == (D("50.00"), "paid")
    for p in Payment.objects.all():
        allocated = Allocation.objects.filter(payment=p).aggregate(s=Sum("amount"))["s"] or D(0)
        assert allocated + p.unallocated == p.amount
    assert Invoice.objects.filter(client=client, amount_paid__gt=0).count() == 10


@pytest.mark.postgres
def test_twenty_identical_payment_posts_all_see_it_recorded_and_it_is_one_payment(
    keep_reference_data, transactional_db, finance
):
    from django.test import Client as Browser
    from django.urls import reverse

    client = client_in_class()
    billed(client, "50.00", on=ago(5))
    barrier = threading.Barrier(20)
    answers = []
    data = {"client": client.pk, "amount": "50.00", "received_on": ago(0).isoformat(), "reference": "SAME-1"}

    def post():
        browser = Browser()
        browser.force_login(finance)
        try:
            barrier.wait()
            response = browser.post(reverse("invoices:record_payment"), data | {"method": "card"}, follow=True)
            answers.append((response.status_code, response.content.decode()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Payment.objects.count() == 1
    assert [code for code, _page in answers] == [200] * 20
    recorded = sum("Payment SAME-1 of GBP 50.00 recorded" in page for _code, page in answers)
    already = sum("Already recorded: payment SAME-1" in page for _code, page in answers)
    assert (recorded, already) == (1, 19)
