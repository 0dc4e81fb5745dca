"""Bulk apply: preview of the selection, confirm, and the live progress page."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billingone.background import BackgroundUnavailableError
from billingone.htmx import redirect_after_post, vary_on_htmx

from .. import selectors
from ..services.actions import ActionRefused
from ..services.bulk import preview_bulk_apply, resume_bulk_apply, start_bulk_apply


@permission_required("opportunities.apply_opportunity", raise_exception=True)
def bulk_preview(request) -> HttpResponse:
    """GET: the preview grouped by contract; POST: confirm (same idempotency key → same bulk apply)."""
    source = request.POST if request.method == "POST" else request.GET
    ids = source.getlist("ids")
    back = reverse("opportunities:queue") + "?tab=ready&select=1"
    if not ids:
        messages.error(request, "Select at least one item to apply.")
        return HttpResponseRedirect(back)
    if request.method == "POST":
        try:
            bulk, created = start_bulk_apply(
                opportunity_ids=ids, idempotency_key=request.POST.get("key", ""), actor=request.user
            )
        except (ActionRefused, BackgroundUnavailableError) as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(back)
        if not created:
            messages.info(request, "This bulk apply was already submitted; here is its progress.")
        return redirect_after_post(request, reverse("opportunities:bulk_progress", args=[bulk.pk]))
    try:
        preview = preview_bulk_apply(opportunity_ids=ids)
    except ActionRefused as exc:
        messages.error(request, str(exc))
        return render(request, "opportunities/bulk_preview.html", {"preview": None, "back": back}, status=400)
    return render(
        request, "opportunities/bulk_preview.html", {"preview": preview, "key": uuid.uuid4().hex, "back": back}
    )


@permission_required("opportunities.apply_opportunity", raise_exception=True)
def bulk_progress_view(request, pk: int) -> HttpResponse:
    bulk, items = selectors.bulk_for_page(pk)
    if bulk is None:
        raise Http404("No such bulk apply.")
    context = {"bulk": bulk, "items": items, "progress": selectors.bulk_progress(bulk)}
    template = "opportunities/bulk_progress.html#bulk-progress" if request.htmx else "opportunities/bulk_progress.html"
    response = render(request, template, context)
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.apply_opportunity", raise_exception=True)
def bulk_resume(request, pk: int) -> HttpResponse:
    """Resume a bulk apply whose worker stopped: only its waiting items run."""
    bulk, _items = selectors.bulk_for_page(pk)
    if bulk is None:
        raise Http404("No such bulk apply.")
    try:
        resume_bulk_apply(bulk_id=bulk.pk)
    except (ActionRefused, BackgroundUnavailableError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Resumed: the items still waiting are being applied.")
    return redirect_after_post(request, reverse("opportunities:bulk_progress", args=[bulk.pk]))
