"""Home: what needs attention today, across the console."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

import invoices.selectors
import opportunities.selectors
from clients.selectors import portfolio_summary

from .background import broker_problem, cache_problem
from .recovered import recovered_by_missed_billing


def home(request: HttpRequest) -> HttpResponse:
    context = {"portfolio": portfolio_summary(), "missed_billing": opportunities.selectors.needs_attention()}
    context.update(invoices.selectors.home_summary())
    context["recovered"] = recovered_by_missed_billing()
    return render(request, "home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness probe: 200 while the web process answers and reaches the database; the body names
    what is degraded (the broker, so background work; the cache) without failing the probe."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    checks = {"database": None, "broker": broker_problem(fresh=True), "cache": _cache_check()}
    degraded = sorted(name for name, problem in checks.items() if problem)
    body = {
        "ok": True,
        "degraded": degraded,
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return JsonResponse(body)


def _cache_check() -> str | None:
    cache.get("healthz-probe")  # a miss either way; a Redis outage shows as the cache's problem
    return cache_problem()
