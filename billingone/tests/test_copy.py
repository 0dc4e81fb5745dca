"""What the console says: one currency and one date format in messages, people by their full
names, each message once, no doubled demo prefixes."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billingone.tests.html import element, elements
from clients.dates import display_date

pytestmark = pytest.mark.django_db


def test_a_notification_names_the_currency_and_separates_thousands(finance):
    from opportunities.models import Notification, Severity
    from opportunities.services.notifications import notify_new_high_severity
    from opportunities.tests.factories import OpportunityFactory

    opp = OpportunityFactory(severity=Severity.HIGH, client_name="Acme", monthly_impact=Decimal("1435.50"))
    notify_new_high_severity(opportunity_ids=[opp.pk])
    assert "(GBP 1,435.50 a month)" in Notification.objects.filter(user=finance).get().title


def test_the_thresholds_error_is_said_once(admin_client_):
    response = admin_client_.post(
        reverse("opportunities:thresholds"), {"high_threshold": "10", "medium_threshold": "50"}
    )
    assert response.status_code == 400
    assert response.content.decode().count("The high threshold must be at least the medium threshold") == 1


def test_history_names_people_by_their_full_name(finance_client, finance):
    from opportunities.tests.factories import OpportunityFactory

    finance.first_name, finance.last_name = "Fran", "Okafor"
    finance.save()
    opp = OpportunityFactory()
    finance_client.post(reverse("opportunities:review", args=[opp.pk]))
    history = element(finance_client.get(opp.get_absolute_url()), "ol", data_testid="history").text
    assert "by Fran Okafor" in history and finance.username not in history


def test_collections_write_dates_as_the_console_does(django_capture_on_commit_callbacks):
    from clients.models import Client
    from invoices import services
    from invoices.tests.factories import ago, billed, client_in_class

    client = client_in_class(terms=10, steps=[(10, "limit")])
    invoice = billed(client, "100.00", on=ago(25))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_collections(as_of=ago(0))
    change = Client.objects.get(pk=client.pk).status_changes.get()
    assert change.reason == f"Collections: {invoice.number} overdue since {display_date(invoice.due_on)}"


def test_demo_payments_and_invoices_carry_one_prefix():
    from django.core.management import call_command

    from invoices.models import Invoice, Payment

    call_command("seed_demo", verbosity=0)
    assert not Payment.objects.filter(reference__contains="DEMO-DEMO").exists()
    assert Payment.objects.filter(reference__startswith="BACS INV-").exists()
    assert not Invoice.objects.filter(number__startswith="DEMO-").exists()


def test_the_notifications_page_and_rule_delete_use_the_visible_link_styles(finance_client, admin_client_, finance):
    from opportunities.models import Severity
    from opportunities.services.notifications import notify_new_high_severity
    from opportunities.tests.factories import DeviceRuleFactory, OpportunityFactory

    notify_new_high_severity(opportunity_ids=[OpportunityFactory(severity=Severity.HIGH, client_name="Acme").pk])
    page = finance_client.get(reverse("opportunities:notifications"))
    assert element(page, "ul", **{"class": "notifications"}).text.startswith("High: Acme")
    assert elements(page, "time")  # the date has its own element, kept on one line by the stylesheet
    DeviceRuleFactory()
    rules = admin_client_.get(reverse("opportunities:rules"))
    assert element(rules, "button", text="Delete")["class"] == "linkbutton danger"


def test_a_reason_that_ends_a_sentence_gets_no_second_full_stop(viewer_client):
    from opportunities.models import OpportunityState
    from opportunities.tests.factories import OpportunityFactory

    opp = OpportunityFactory(ready_to_apply=False, not_ready_reason="Migrate that line first.")
    page = viewer_client.get(opp.get_absolute_url()).content.decode()
    assert "Not ready to apply from the queue: Migrate that line first.</p>" in page and "first.." not in page
    ignored = OpportunityFactory(state=OpportunityState.IGNORED, ignore_reason="Billed via the parent")
    page = viewer_client.get(ignored.get_absolute_url()).content.decode()
    assert "Ignored: Billed via the parent.</p>" in page
