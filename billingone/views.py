"""Home: what needs attention today, across the console."""

from django.shortcuts import render

import invoices.selectors
import opportunities.selectors
from clients.selectors import portfolio_summary


def home(request):
    context = {"portfolio": portfolio_summary(), "missed_billing": opportunities.selectors.needs_attention()}
    context.update(invoices.selectors.home_summary())
    return render(request, "home.html", context)


def healthz(request):
    """Liveness probe for the container platform: the web process answers and reaches the database."""
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
