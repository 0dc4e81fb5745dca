"""Home: what needs attention today, across the console."""

from django.shortcuts import render

from clients.selectors import portfolio_summary


def home(request):
    from opportunities.selectors import needs_attention

    return render(request, "home.html", {"portfolio": portfolio_summary(), "missed_billing": needs_attention()})


def healthz(request):
    """Liveness probe for the container platform: the web process answers and reaches the database."""
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
