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
