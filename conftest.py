"""Project-wide test set-up: roles, logged-in clients, and the service markers.

Tests marked ``redis`` or ``browser`` run when the service is there. Without it
they are skipped -- unless REQUIRE_SERVICES=1, when the missing service is a
failure, so CI can never pass by skipping them. ``postgres`` tests need
PostgreSQL and are skipped on the SQLite run (that skip is expected).
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _redis_up() -> str | None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return "REDIS_URL is not set"
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2):
            return None
    except OSError as exc:
        return f"Redis at {url} is not reachable: {exc}"


def _chromium_up() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM}"
    return None


def pytest_runtest_setup(item):
    checks = {"redis": _redis_up, "browser": _chromium_up}
    for marker, check in checks.items():
        if item.get_closest_marker(marker):
            problem = check()
            if problem:
                if os.environ.get("REQUIRE_SERVICES") == "1":
                    pytest.fail(f"REQUIRE_SERVICES=1 but {problem}", pytrace=False)
                pytest.skip(problem)
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def roles(db):
    """The three role groups, as created by the data migrations."""
    from django.contrib.auth.models import Group

    return {g.name: g for g in Group.objects.filter(name__in=["Viewer", "Finance", "Admin"])}


def _make_user(username, group_name, *, is_staff=False):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=is_staff)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def viewer(db):
    return _make_user("vera", "Viewer")


@pytest.fixture
def finance(db):
    return _make_user("fran", "Finance")


@pytest.fixture
def admin_user(db):
    return _make_user("ada", "Admin", is_staff=True)


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


# --- Browser tests (Playwright driving Debian's Chromium) ---------------------------------
# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous, so Django's async-safety guard is relaxed for them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    problem = _chromium_up()
    if problem:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def phone_page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def browser_login(pg, username, password):
    """Sign in through the real login form."""
    pg.goto("/login/")
    pg.fill("#id_username", username)
    pg.fill("#id_password", password)
    pg.click("button[type=submit]")
    pg.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def login():
    return browser_login


@pytest.fixture
def celery_eager():
    """Run Celery tasks inline for this test. Sets the live app's conf: once the app has
    read Django's settings, changing settings.CELERY_TASK_ALWAYS_EAGER no longer reaches it."""
    from billingone.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = saved


# --- Rows made by data migrations, across transactional tests ----------------------------
# A transactional or live-server test ends with a flush that empties every table. Roles come
# back by themselves (clients.roles.restore_roles on post_migrate); the beat schedules the data
# migrations made are snapshotted once and put back around the tests that need them.


def _reference_models():
    # Roles come back by themselves after a flush (clients.roles.restore_roles, post_migrate).
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

    return [IntervalSchedule, CrontabSchedule, PeriodicTask, PeriodicTasks]


def _restore(data):
    from django.core import serializers

    for obj in serializers.deserialize("json", data, handle_forward_references=True):
        obj.save()


@pytest.fixture(scope="session", autouse=True)
def reference_data(django_db_setup, django_db_blocker):
    """The rows data migrations made (roles, beat schedules), put back when the session ends.

    A transactional or live-server test empties every table when it ends; with
    ``--reuse-db`` the schedules would otherwise be missing in the next run. Autouse, so the
    snapshot is taken before the first test, never after a flush.
    """
    from django.core import serializers

    with django_db_blocker.unblock():
        objects = [obj for model in _reference_models() for obj in model.objects.all()]
        data = serializers.serialize("json", objects, use_natural_foreign_keys=True)
    yield data
    with django_db_blocker.unblock():
        _restore(data)


@pytest.fixture
def keep_reference_data(reference_data, django_db_blocker):
    """For transactional and browser tests: the roles are there when the test starts and after it."""
    with django_db_blocker.unblock():
        _restore(reference_data)
    yield
    with django_db_blocker.unblock():
        _restore(reference_data)
