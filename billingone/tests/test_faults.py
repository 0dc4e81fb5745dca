"""Redis down, the broker down: the console keeps working and says what is unavailable."""

import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from billingone import background
from billingone.cache import ForgivingRedisCache

NOWHERE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
DEAD_CACHE = {
    "default": {
        "BACKEND": "billingone.cache.ForgivingRedisCache",
        "LOCATION": NOWHERE,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }
}


@pytest.fixture
def cache_down(settings):
    settings.CACHES = DEAD_CACHE
    settings.QUEUE_COUNTS_CACHE_SECONDS = 30  # the tab counts really go through the cache
    ForgivingRedisCache.down_until = 0.0
    yield
    ForgivingRedisCache.down_until, ForgivingRedisCache.last_error = 0.0, None


@pytest.fixture
def broker_down():
    from billingone.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = NOWHERE
    background._last_check.update(at=-background.CHECK_EVERY, problem=None)
    yield
    app.conf.broker_url = saved
    background._last_check.update(at=-background.CHECK_EVERY, problem=None)


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def test_the_cache_answers_a_miss_when_redis_is_down(cache_down):
    started = time.monotonic()
    assert cache.get("anything", "fallback") == "fallback"
    assert cache.set("k", 1) is None and cache.delete("k") is False and cache.get_or_set("k", 2) == 2
    assert time.monotonic() - started < 3
    assert "ConnectionError" in ForgivingRedisCache.problem()


@pytest.mark.django_db
def test_home_and_the_queue_render_with_the_cache_down(finance_client, demo, cache_down):
    assert finance_client.get(reverse("home")).status_code == 200
    response = finance_client.get(reverse("opportunities:queue"))
    assert response.status_code == 200
    assert "Ready to apply" in response.content.decode()


@pytest.mark.django_db
def test_an_action_that_succeeded_says_so_with_the_cache_down(finance_client, demo, cache_down):
    from opportunities.models import Opportunity, OpportunityState

    opp = Opportunity.objects.filter(state=OpportunityState.OPEN).order_by("pk").first()
    response = finance_client.post(reverse("opportunities:review", args=[opp.pk]), {"note": "checked"}, follow=True)
    assert response.status_code == 200
    opp.refresh_from_db()
    assert opp.state == OpportunityState.REVIEWED


@pytest.mark.django_db
def test_healthz_stays_200_and_names_what_is_degraded(client, broker_down, cache_down):
    started = time.monotonic()
    response = client.get(reverse("healthz"))
    assert time.monotonic() - started < 6  # short timeouts, never the ~20 s of default retries
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["degraded"] == ["broker", "cache"]
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_nothing_degraded_when_all_is_well(client):
    body = client.get(reverse("healthz")).json()
    assert body["degraded"] == [] and body["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_the_header_shows_a_quiet_banner_while_background_work_is_unavailable(finance_client, broker_down):
    page = finance_client.get(reverse("home")).content.decode()
    assert 'data-testid="background-banner"' in page
    assert "Everything else works." in page


@pytest.mark.django_db
def test_no_banner_while_the_broker_answers(finance_client):
    assert 'data-testid="background-banner"' not in finance_client.get(reverse("home")).content.decode()


def test_requiring_the_broker_refuses_at_once_when_it_is_down(broker_down):
    started = time.monotonic()
    with pytest.raises(background.BackgroundUnavailableError, match="nothing was changed"):
        background.require_broker()
    assert time.monotonic() - started < 5


# --- Work that needs a worker: refused at once while the broker is down, nothing left waiting ---


@pytest.mark.django_db
def test_run_detection_now_is_refused_at_once_and_records_no_run(admin_client_, broker_down):
    from opportunities.models import DetectionRun

    started = time.monotonic()
    response = admin_client_.post(reverse("opportunities:run_detection"), follow=True)
    assert time.monotonic() - started < 6
    assert response.status_code == 200
    assert "Background work is unavailable right now" in response.content.decode()
    assert not DetectionRun.objects.exists()


@pytest.mark.django_db
def test_a_large_upload_is_refused_at_once_and_stores_no_import(admin_client_, broker_down, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from opportunities.models import SourceImport
    from opportunities.services.imports import workflow

    monkeypatch.setattr(workflow, "BACKGROUND_BYTES", 10)
    upload = SimpleUploadedFile("rmm.csv", b"device_id,client_rmm_id,hostname,device_type\nd1,RMM-1,WS-1,workstation\n")
    response = admin_client_.post(reverse("opportunities:import_upload"), {"source": "devices", "file": upload})
    assert response.status_code == 400
    assert "Background work is unavailable right now" in response.content.decode()
    assert not SourceImport.objects.exists()


@pytest.mark.django_db
def test_a_large_commit_is_refused_and_the_import_stays_ready(admin_client_, broker_down, monkeypatch):
    from opportunities.models import SourceImport
    from opportunities.services.imports import workflow

    imp = SourceImport.objects.create(source="devices", file_name="rmm.csv", file_size=100, status="ready")
    monkeypatch.setattr(workflow, "BACKGROUND_BYTES", 10)
    response = admin_client_.post(reverse("opportunities:import_commit", args=[imp.pk]), follow=True)
    assert "Background work is unavailable right now" in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == "ready"


@pytest.fixture
def ready_pair():
    from opportunities.tests.factories import ProductFactory, billed_line, raise_quantity_opportunity

    product = ProductFactory()
    return [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(2)]


@pytest.mark.django_db
def test_a_bulk_apply_is_refused_at_once_and_stores_nothing(finance_client, finance, broker_down, ready_pair):
    from opportunities.models import BulkApply
    from opportunities.tests.factories import select

    response = finance_client.post(reverse("opportunities:bulk_preview"), select(finance, ready_pair), follow=True)
    assert "Background work is unavailable right now" in response.content.decode()
    assert not BulkApply.objects.exists()


@pytest.mark.django_db
def test_a_bulk_apply_the_broker_drops_at_commit_is_interrupted_then_resumed(
    finance_client, finance, ready_pair, monkeypatch, django_capture_on_commit_callbacks, celery_eager
):
    from opportunities.models import BulkApply, OpportunityState
    from opportunities.services import bulk as bulk_services
    from opportunities.tests.factories import select

    def refuse(*args, **kwargs):
        raise ConnectionError("the broker went away")

    monkeypatch.setattr(bulk_services.run_bulk_apply, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        finance_client.post(reverse("opportunities:bulk_preview"), select(finance, ready_pair))
    bulk = BulkApply.objects.get()
    assert bulk.status == "interrupted" and "Not started" in bulk.message
    page = finance_client.get(reverse("opportunities:bulk_progress", args=[bulk.pk])).content.decode()
    assert 'data-testid="bulk-stopped"' in page and "Resume the 2 waiting" in page
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(reverse("opportunities:bulk_resume", args=[bulk.pk]), follow=True)
    assert "Resumed" in response.content.decode()
    bulk.refresh_from_db()
    assert bulk.status == "finished"
    assert {o.state for o in type(ready_pair[0]).objects.filter(pk__in=[o.pk for o in ready_pair])} == {
        OpportunityState.APPLIED
    }
    background._last_check.update(at=-background.CHECK_EVERY, problem=None)
