"""Detection runs: what each run examined and changed, and "run detection now" for Admins."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billingone.background import BackgroundUnavailableError
from billingone.htmx import vary_on_htmx

from .. import selectors
from ..services.detection import request_detection_run

PAGE_SIZE = 25


@permission_required("opportunities.view_detectionrun", raise_exception=True)
def run_list(request) -> HttpResponse:
    page = selectors.run_history(request.GET.get("page"), per_page=PAGE_SIZE)
    template = "opportunities/runs_list.html#run-table" if request.htmx else "opportunities/runs_list.html"
    response = render(request, template, {"page": page})
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.run_detection", raise_exception=True)
def run_now(request) -> HttpResponse:
    try:
        request_detection_run(actor=request.user)
    except BackgroundUnavailableError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "Detection is running for every client: its chunks are shared by the workers, and the run below says how far it got.",
        )
    return redirect("opportunities:runs")
