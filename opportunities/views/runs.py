"""Detection runs: what each run examined and changed, and "run detection now" for Admins."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billingone.htmx import vary_on_htmx

from ..models import DetectionRun

PAGE_SIZE = 25


@permission_required("opportunities.view_detectionrun", raise_exception=True)
def run_list(request) -> HttpResponse:
    page = Paginator(DetectionRun.objects.select_related("triggered_by"), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "opportunities/runs_list.html#run-table" if request.htmx else "opportunities/runs_list.html"
    response = render(request, template, {"page": page})
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.run_detection", raise_exception=True)
def run_now(request) -> HttpResponse:
    from ..tasks import detect_all

    user_id = request.user.pk
    transaction.on_commit(lambda: detect_all.delay(user_id=user_id))
    messages.success(request, "Detection is running for every client; the run appears here when it finishes.")
    return redirect("opportunities:runs")
