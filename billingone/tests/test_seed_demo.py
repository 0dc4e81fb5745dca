import pytest
from django.apps import apps
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def _snapshot():
    """Every row of every project model, as comparable tuples (ids included)."""
    rows = {}
    for label in ("clients", "opportunities", "invoices", "auth"):
        for model in apps.get_app_config(label).get_models():
            if not model._meta.managed:
                continue
            exclude = {"last_login", "date_joined", "created_at", "updated_at"}
            fields = [
                f.attname
                for f in model._meta.concrete_fields
                if f.attname not in exclude and not f.name.endswith("_at")
            ]
            rows[model._meta.label] = sorted(map(str, model.objects.values_list(*fields)))
    return rows


def test_seed_demo_builds_a_believable_msp_with_a_login_per_role():
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from clients.demo import DEMO_PASSWORD
    from clients.models import Client, Contract, Product

    call_command("seed_demo", verbosity=0)
    assert 25 <= Client.objects.count() <= 40
    assert Product.objects.filter(retired=True).exists() and Product.objects.filter(category="licence").exists()
    assert Contract.objects.count() >= Client.objects.count()
    for username, perm in [
        ("viewer", "clients.view_client"),
        ("finance", "clients.view_client"),
        ("admin", "clients.change_contract"),
    ]:
        user = authenticate(RequestFactory().post("/login/"), username=username, password=DEMO_PASSWORD)
        assert user is not None and user.has_perm(perm)
    assert not authenticate(RequestFactory().post("/login/"), username="viewer", password=DEMO_PASSWORD).has_perm(
        "clients.change_contract"
    )


def test_the_demo_has_next_months_billing_run_drafted_for_review():
    from clients.dates import org_today
    from invoices.models import BillingRun, BillingRunStatus, DraftInvoice, Invoice

    call_command("seed_demo", verbosity=0)
    run = BillingRun.objects.get()
    assert run.status == BillingRunStatus.DRAFT and run.period_start > org_today()
    drafts = DraftInvoice.objects.filter(run=run)
    assert drafts.count() >= 20 and not drafts.filter(lines__adjustment=True).exists()
    # Billing starts after the demo's invoice history: nothing already invoiced is drafted again.
    latest = Invoice.objects.order_by("-period_end").values_list("period_end", flat=True).first()
    assert all(draft.period_start > latest for draft in drafts)


def test_running_seed_demo_twice_changes_nothing():
    call_command("seed_demo", verbosity=0)
    first = _snapshot()
    call_command("seed_demo", verbosity=0)
    assert _snapshot() == first
