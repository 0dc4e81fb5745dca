"""The e-mail outbox: one e-mail per invoice however often its task runs; a resend is a new message."""

import datetime as dt
import threading
import time
from decimal import Decimal
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billingone import background
from clients.tests.factories import ContractFactory, ContractLineFactory
from invoices import services, tasks
from invoices.models import CustomerClass, Invoice, InvoiceMessage, MessageKind, MessageStatus
from invoices.services import email as outbox

from .factories import billed, client_in_class

pytestmark = pytest.mark.django_db
D = Decimal
JAN = dt.date(2027, 1, 1)


class RefusingBackend(BaseEmailBackend):
    """A mail server that answers "try again later"."""

    def send_messages(self, messages):
        raise SMTPException("451 4.3.0 Mail server temporarily unavailable")


class SlowBackend(LocmemBackend):
    """The test outbox, but each send takes a while (so two workers overlap)."""

    def send_messages(self, messages):
        time.sleep(0.5)
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def billing_run_clients(*emails):
    """One client per e-mail with a contract line in force, then a billing run for January issued."""
    CustomerClass.objects.create(name="Standard", payment_terms_days=14, is_default=True)
    for email in emails:
        client = client_in_class(email=email)
        ContractLineFactory(contract=ContractFactory(client=client, start_date=dt.date(2026, 6, 1)), unit_price=D("9"))


def issue_january(settings):
    settings.BILLING_GO_LIVE = JAN
    run = services.start_billing_run(period_start=JAN)
    return services.issue_billing_run(run, issued_on=JAN)


# --- queueing --------------------------------------------------------------------------------


def test_queueing_makes_one_message_per_invoice_with_a_billing_email_and_again_nothing():
    with_email, without = billed(client_in_class(), "10.00"), billed(client_in_class(email=""), "10.00")
    waiting = services.queue_invoice_messages([with_email.pk, without.pk])
    message = InvoiceMessage.objects.get()
    assert waiting == [message.pk]
    assert (message.invoice, message.kind, message.occasion) == (with_email, MessageKind.INVOICE, "issue")
    assert (message.to_email, message.status, message.attempts) == ("ap@example.com", MessageStatus.PENDING, 0)
    assert services.queue_invoice_messages([with_email.pk, without.pk]) == [message.pk]
    assert InvoiceMessage.objects.count() == 1
    assert services.queue_invoice_messages([]) == []


def test_issuing_a_run_emails_each_invoice_once_however_often_delivery_runs(
    settings, celery_eager, django_capture_on_commit_callbacks
):
    billing_run_clients("a@example.com", "b@example.com", "")
    with django_capture_on_commit_callbacks(execute=True):
        run = issue_january(settings)
    assert run.issued_count == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
    messages = list(InvoiceMessage.objects.order_by("to_email"))
    assert [m.status for m in messages] == [MessageStatus.SENT] * 2 and all(m.attempts == 1 for m in messages)
    sent = mail.outbox[0]
    invoice = next(i for i in Invoice.objects.all() if i.number in sent.subject)
    assert sent.attachments[0][0] == f"{invoice.number}.pdf" and sent.attachments[0][2] == "application/pdf"
    assert sent.attachments[0][1].startswith(b"%PDF")

    ids = [m.pk for m in messages]
    for _ in range(3):  # a redelivered batch, a retried single task, the sweep: nothing sent again
        tasks.deliver_invoice_messages.delay(ids)
        tasks.deliver_invoice_message.delay(ids[0])
        with django_capture_on_commit_callbacks(execute=True):
            services.queue_invoice_messages(Invoice.objects.values_list("pk", flat=True))
    assert len(mail.outbox) == 2 and InvoiceMessage.objects.count() == 2


def test_a_resend_is_a_new_recorded_message(finance, settings, celery_eager, django_capture_on_commit_callbacks):
    billing_run_clients("a@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        issue_january(settings)
    invoice = Invoice.objects.get()
    assert services.resend_invoice(invoice, actor=finance) == "a@example.com"
    assert len(mail.outbox) == 2 and "sent again" in mail.outbox[1].subject
    resent = InvoiceMessage.objects.get(kind=MessageKind.RESEND)
    assert (resent.status, resent.created_by, resent.to_email) == (MessageStatus.SENT, finance, "a@example.com")
    assert resent.occasion != "issue" and resent.sent_at is not None
    services.resend_invoice(invoice, actor=finance)
    assert len(mail.outbox) == 3 and InvoiceMessage.objects.filter(invoice=invoice).count() == 3


def test_a_resend_without_a_billing_email_records_nothing():
    invoice = billed(client_in_class(email=""), "10.00")
    with pytest.raises(ValidationError, match="no billing e-mail"):
        services.resend_invoice(invoice)
    assert not InvoiceMessage.objects.exists() and mail.outbox == []


# --- delivery: failures, retries, the sweep --------------------------------------------------


def test_a_failed_send_is_recorded_tried_again_and_failed_after_the_last_attempt(settings):
    invoice = billed(client_in_class(), "10.00")
    [pk] = services.queue_invoice_messages([invoice.pk])
    settings.EMAIL_BACKEND = "invoices.tests.test_outbox.RefusingBackend"
    message = services.deliver_message(pk)
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert message.last_error == "SMTPException: 451 4.3.0 Mail server temporarily unavailable"
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        message = services.deliver_message(pk)
    assert (message.status, message.attempts) == (MessageStatus.FAILED, outbox.MAX_ATTEMPTS)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.deliver_message(pk).status == MessageStatus.FAILED  # failed stays failed: resend instead
    assert mail.outbox == []


def test_a_send_that_works_on_the_second_try_is_sent_once(settings):
    invoice = billed(client_in_class(), "10.00")
    [pk] = services.queue_invoice_messages([invoice.pk])
    settings.EMAIL_BACKEND = "invoices.tests.test_outbox.RefusingBackend"
    services.deliver_message(pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = services.deliver_message(pk)
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 2, "")
    services.deliver_message(pk)
    assert len(mail.outbox) == 1


def test_a_failed_resend_says_so_and_is_left_for_the_sweep(settings, finance):
    invoice = billed(client_in_class(), "10.00")
    settings.EMAIL_BACKEND = "invoices.tests.test_outbox.RefusingBackend"
    with pytest.raises(ValidationError, match="could not be sent to ap@example.com now .*tried again"):
        services.resend_invoice(invoice, actor=finance)
    message = InvoiceMessage.objects.get()
    assert (message.status, message.attempts, message.created_by) == (MessageStatus.PENDING, 1, finance)


def test_a_broker_fault_at_issue_fails_nothing_and_the_sweep_delivers_later(
    settings, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    billing_run_clients("a@example.com")

    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver_invoice_messages, "apply_async", broker_down)
    for key in ("at", "problem"):  # the failed send is remembered as a broker fault: not past this test
        monkeypatch.setitem(background._last_check, key, background._last_check[key])
    with django_capture_on_commit_callbacks(execute=True):
        run = issue_january(settings)
    assert run.issued_count == 1 and Invoice.objects.count() == 1
    message = InvoiceMessage.objects.get()
    assert message.status == MessageStatus.PENDING and mail.outbox == []
    monkeypatch.undo()

    assert services.messages_to_sweep() == []  # too young: its own task may still come
    later = timezone.now() + outbox.SWEEP_AFTER + dt.timedelta(seconds=1)
    assert services.messages_to_sweep(now=later) == [message.pk]
    InvoiceMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    assert tasks.sweep_outbox.delay().get() == 1
    assert len(mail.outbox) == 1 and tasks.sweep_outbox.delay().get() == 0


def test_the_sweep_backs_off_after_failed_attempts():
    invoice = billed(client_in_class(), "10.00")
    [pk] = services.queue_invoice_messages([invoice.pk])
    InvoiceMessage.objects.filter(pk=pk).update(attempts=2, created_at=timezone.now() - dt.timedelta(minutes=20))
    assert services.messages_to_sweep() == []  # two failures: not before 32 minutes
    InvoiceMessage.objects.filter(pk=pk).update(created_at=timezone.now() - dt.timedelta(minutes=33))
    assert services.messages_to_sweep() == [pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_one_email(settings, keep_reference_data):
    invoice = billed(client_in_class(), "10.00")
    [pk] = services.queue_invoice_messages([invoice.pk])
    services.invoice_document(invoice)  # rendered beforehand, so both workers only send
    settings.EMAIL_BACKEND = "invoices.tests.test_outbox.SlowBackend"
    results = []

    def worker():
        try:
            results.append(services.deliver_message(pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mail.outbox) == 1
    assert sorted(str(r.status) if r else "busy" for r in results) in (["busy", "sent"], ["sent", "sent"])
    assert InvoiceMessage.objects.get().attempts == 1


# --- the console and the admin ---------------------------------------------------------------


def test_finance_resends_from_the_invoice_page_and_sees_the_message(finance_client, finance):
    invoice = billed(client_in_class(), "10.00")
    page = finance_client.get(invoice.get_absolute_url()).content.decode()
    assert "No e-mail about this invoice yet." in page
    assert 'data-confirm="Send invoice' in page
    response = finance_client.post(reverse("invoices:resend", args=[invoice.pk]), follow=True)
    page = response.content.decode()
    assert f"Invoice {invoice.number} sent to ap@example.com." in page
    message = InvoiceMessage.objects.get()
    assert message.created_by == finance
    assert f'data-message="{message.pk}"' in page and "Invoice resent" in page and "Sent" in page


def test_the_invoice_page_shows_a_failed_message_with_its_error(viewer_client):
    invoice = billed(client_in_class(), "10.00")
    InvoiceMessage.objects.create(
        invoice=invoice,
        kind=MessageKind.INVOICE,
        occasion="issue",
        to_email="ap@example.com",
        status=MessageStatus.FAILED,
        attempts=5,
        last_error="SMTPRecipientsRefused: 550 no such user",
    )
    page = viewer_client.get(invoice.get_absolute_url()).content.decode()
    assert "Failed" in page and "after 5 attempts: SMTPRecipientsRefused: 550 no such user" in page
    assert "Resend by e-mail" not in page  # a Viewer reads, Finance resends


def test_a_viewer_cannot_resend(viewer_client):
    invoice = billed(client_in_class(), "10.00")
    assert viewer_client.post(reverse("invoices:resend", args=[invoice.pk])).status_code == 403
    assert not InvoiceMessage.objects.exists() and mail.outbox == []


def test_the_admin_lists_messages_and_documents_read_only_and_resends(admin_client_):
    invoice = billed(client_in_class(), "10.00")
    [pk] = services.queue_invoice_messages([invoice.pk])
    services.invoice_document(invoice)
    url = reverse("admin:invoices_invoicemessage_changelist")
    page = admin_client_.get(url, {"q": invoice.number}).content.decode()
    assert "ap@example.com" in page and "Waiting to be sent" in page
    assert admin_client_.get(reverse("admin:invoices_invoicemessage_add")).status_code == 403
    docs = admin_client_.get(reverse("admin:invoices_invoicedocument_changelist")).content.decode()
    assert f"{invoice.number}.pdf" in docs
    response = admin_client_.post(url, {"action": "resend", "_selected_action": [pk]}, follow=True)
    assert "1 invoice(s) sent again." in response.content.decode()
    assert InvoiceMessage.objects.filter(kind=MessageKind.RESEND, status=MessageStatus.SENT).count() == 1
    assert len(mail.outbox) == 1
