import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_values():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="a-real-secret-key-that-is-long-and-random-3f9a8c7d6e5b4a3928170",
        ALLOWED_HOSTS="billing.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_time_zone_fails_loudly_at_start_up():
    result = _manage("check", TIME_ZONE="Mars/Olympus_Mons")
    assert result.returncode != 0
    assert "Mars/Olympus_Mons" in result.stderr


def test_e_mailed_links_follow_the_port_make_run_serves_on():
    result = _manage("shell", "-c", "from django.conf import settings; print(settings.SITE_URL)", PORT="8765")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8765"


def test_an_explicit_site_url_wins_over_the_port():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SITE_URL)",
        PORT="8765",
        SITE_URL="https://b.example.com/",
    )
    assert result.stdout.strip().splitlines()[-1] == "https://b.example.com"


def test_with_redis_the_cache_forgives_an_outage_and_the_broker_gives_up_fast():
    code = (
        "from django.conf import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.CELERY_BROKER_CONNECTION_TIMEOUT, "
        "s.CELERY_TASK_PUBLISH_RETRY_POLICY['max_retries'], s.CACHES['default']['OPTIONS']['socket_timeout'])"
    )
    result = _manage("shell", "-c", code, REDIS_URL="redis://127.0.0.1:9/0")
    assert result.stdout.strip().splitlines()[-1] == "billingone.cache.ForgivingRedisCache 2 1 1.0"
