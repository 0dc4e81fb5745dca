"""Missed billing pages."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render


@permission_required("opportunities.view_opportunity", raise_exception=True)
def queue(request):
    return render(request, "opportunities/coming.html")
