"""Walks every URL pattern of the console for anonymous, Viewer, Finance and Admin.

ACCESS holds what each role gets on GET for every named URL outside Django admin;
a URL added without an entry here fails ``test_every_url_has_an_access_rule``.
POST-only views must refuse GET (405), and every POST needs a CSRF token.
"""

from dataclasses import dataclass, field

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from clients.tests.factories import ClientFactory, ProductFactory
from opportunities.models import MappingRule, SourceImport

ROLES = ("viewer", "finance", "admin")


@dataclass
class Access:
    get: dict  # role -> expected GET status; "anonymous" defaults to a redirect to the login page
    post_only: bool = False
    kwargs: callable = field(default=lambda objs: {})


READ = {"viewer": 200, "finance": 200, "admin": 200}
ACT = {"viewer": 403, "finance": 200, "admin": 200}
POST_ONLY = {"viewer": 405, "finance": 405, "admin": 405}
OPP = lambda objs: {"pk": objs["opportunity"].pk}  # noqa: E731
RUN = lambda objs: {"pk": objs["draft"].run_id}  # noqa: E731
ACCESS = {
    "home": Access(READ),
    "login": Access({"anonymous": 200, "viewer": 302, "finance": 302, "admin": 302}),
    "logout": Access({"viewer": 405, "finance": 405, "admin": 405}, post_only=True),
    "healthz": Access({"anonymous": 200, **READ}),
    "clients:list": Access(READ),
    "clients:detail": Access(READ, kwargs=lambda objs: {"pk": objs["client"].pk}),
    "clients:pick": Access(READ),
    "opportunities:queue": Access(READ),
    "opportunities:detail": Access(READ, kwargs=OPP),
    "opportunities:snooze": Access(POST_ONLY, post_only=True, kwargs=OPP),
    "opportunities:ignore": Access(POST_ONLY, post_only=True, kwargs=OPP),
    "opportunities:review": Access(POST_ONLY, post_only=True, kwargs=OPP),
    "opportunities:apply": Access(ACT, kwargs=OPP),
    "opportunities:recheck": Access(POST_ONLY, post_only=True, kwargs=OPP),
    "opportunities:reopen": Access(POST_ONLY, post_only=True, kwargs=OPP),
    "opportunities:bulk_preview": Access(
        {"viewer": 403, "finance": 302, "admin": 302}
    ),  # no items chosen: back to select mode
    "opportunities:bulk_progress": Access(ACT, kwargs=lambda objs: {"pk": objs["bulk"].pk}),
    "opportunities:bulk_resume": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["bulk"].pk}),
    "opportunities:notifications": Access(READ),
    "opportunities:rules": Access({"viewer": 403, "finance": 403, "admin": 200}),
    "opportunities:rule_create": Access({"viewer": 403, "finance": 403, "admin": 200}),
    "opportunities:rule_edit": Access(
        {"viewer": 403, "finance": 403, "admin": 200}, kwargs=lambda objs: {"pk": objs["rule"].pk}
    ),
    "opportunities:rule_delete": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["rule"].pk}),
    "opportunities:thresholds": Access({"viewer": 403, "finance": 403, "admin": 200}),
    "opportunities:unmapped_csv": Access(
        {"viewer": 403, "finance": 403, "admin": 200}, kwargs=lambda objs: {"source": "devices"}
    ),
    "opportunities:imports": Access({"viewer": 403, "finance": 403, "admin": 200}),
    "opportunities:import_upload": Access(POST_ONLY, post_only=True),
    "opportunities:import_detail": Access(
        {"viewer": 403, "finance": 403, "admin": 200}, kwargs=lambda objs: {"pk": objs["import"].pk}
    ),
    "opportunities:import_commit": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["import"].pk}),
    "opportunities:import_discard": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["import"].pk}),
    "opportunities:import_resume": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["import"].pk}),
    "opportunities:runs": Access(READ),
    "opportunities:run_detection": Access(POST_ONLY, post_only=True),
    "opportunities:notification_open": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": 1}),
    "opportunities:notifications_read_all": Access(POST_ONLY, post_only=True),
    "invoices:list": Access(READ),
    "invoices:detail": Access(READ, kwargs=lambda objs: {"pk": objs["invoice"].pk}),
    "invoices:record_payment": Access(ACT),
    "invoices:resend": Access(POST_ONLY, post_only=True, kwargs=lambda objs: {"pk": objs["invoice"].pk}),
    "invoices:pdf": Access(READ, kwargs=lambda objs: {"pk": objs["invoice"].pk}),
    # A draft not issued yet has no PDF: a page that says so, for everyone.
    "invoices:draft_pdf": Access(
        {"viewer": 404, "finance": 404, "admin": 404}, kwargs=lambda objs: {"pk": objs["draft"].pk}
    ),
    "invoices:draft": Access(READ, kwargs=lambda objs: {"pk": objs["draft"].pk}),
    "invoices:runs": Access(READ),
    "invoices:run_new": Access(ACT),
    "invoices:run": Access(READ, kwargs=RUN),
    "invoices:run_issue": Access(ACT, kwargs=RUN),
    "invoices:run_rebuild": Access(POST_ONLY, post_only=True, kwargs=RUN),
    "invoices:run_cancel": Access(POST_ONLY, post_only=True, kwargs=RUN),
}


def _named_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}"


@pytest.fixture
def objs(db):
    from opportunities.models import BulkApply
    from opportunities.tests.factories import raise_quantity_opportunity

    return {
        "client": ClientFactory(),
        "opportunity": raise_quantity_opportunity(),
        "bulk": BulkApply.objects.create(idempotency_key="access-walk"),
        "invoice": _invoice(),
        "draft": _draft(),
        "rule": MappingRule.objects.create(kind="device", device_type="server", product=ProductFactory()),
        "import": SourceImport.objects.create(source="devices", file_name="export.csv"),
    }


def _draft():
    import datetime as dt
    from decimal import Decimal

    from invoices.models import BillingRun, BillingRunStatus, DraftInvoice

    run = BillingRun.objects.create(period_start=dt.date(2027, 1, 1), status=BillingRunStatus.DRAFT)
    return DraftInvoice.objects.create(
        run=run,
        client=ClientFactory(),
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 1, 31),
        total=Decimal("10.00"),
    )


def _invoice():
    import datetime as dt
    from decimal import Decimal

    from invoices.services import issue_invoice

    return issue_invoice(
        ClientFactory(), issued_on=dt.date(2026, 10, 1), lines=[("Managed services", 1, Decimal("100.00"))]
    )


@pytest.fixture
def users(viewer, finance, admin_user):
    return {"viewer": viewer, "finance": finance, "admin": admin_user}


def test_every_url_has_an_access_rule():
    missing = sorted(set(_named_patterns()) - set(ACCESS))
    assert not missing, f"add these URL names to ACCESS with what each role gets: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCESS))
def test_anonymous_visitors_are_sent_to_login(client, objs, name):
    rule = ACCESS[name]
    url = reverse(name, kwargs=rule.kwargs(objs))
    response = client.get(url)
    if "anonymous" in rule.get:
        assert response.status_code == rule.get["anonymous"]
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCESS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_access_table_says(client, objs, users, name, role):
    rule = ACCESS[name]
    client.force_login(users[role])
    response = client.get(reverse(name, kwargs=rule.kwargs(objs)))
    assert response.status_code == rule.get[role], f"{role} GET {name}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCESS))
def test_every_post_needs_a_csrf_token(objs, users, name):
    rule = ACCESS[name]
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(users["admin"])
    response = http.post(reverse(name, kwargs=rule.kwargs(objs)), {})
    assert response.status_code == 403, f"POST {name} without a CSRF token was not refused"


@pytest.mark.parametrize("name", sorted(n for n, r in ACCESS.items() if r.post_only))
def test_state_changing_views_refuse_get(client, objs, users, name):
    client.force_login(users["admin"])
    assert client.get(reverse(name, kwargs=ACCESS[name].kwargs(objs))).status_code == 405


@pytest.mark.django_db
def test_only_admins_reach_django_admin(client, users):
    for role in ("viewer", "finance"):
        client.force_login(users[role])
        assert client.get("/admin/").status_code == 302
    client.force_login(users["admin"])
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_roles_are_groups_with_cumulative_permissions(roles):
    viewer = set(roles["Viewer"].permissions.values_list("codename", flat=True))
    finance = set(roles["Finance"].permissions.values_list("codename", flat=True))
    admin = set(roles["Admin"].permissions.values_list("codename", flat=True))
    assert "view_client" in viewer and not any(p.startswith(("add_", "change_", "delete_")) for p in viewer)
    assert viewer < finance < admin
    assert "change_contract" in admin and "change_contract" not in finance
