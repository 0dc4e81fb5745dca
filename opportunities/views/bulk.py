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
from ..forms import BulkApplyForm
from ..services import selection
from ..services.actions import ActionRefused, latest_effective_date
from ..services.bulk import preview_bulk_apply, resume_bulk_apply, start_bulk_apply

BACK = "?tab=ready&select=1"


@permission_required("opportunities.apply_opportunity", raise_exception=True)
def bulk_preview(request) -> HttpResponse:
    """The preview of the person's selection (kept on the server: no item numbers in the URL),
    grouped by contract. POST from the queue: save that page's ticks, then preview. POST with the
    preview's key: confirm, with the optional one date for every item (the same key twice is one
    bulk apply)."""
    back = reverse("opportunities:queue") + BACK
    if request.GET.getlist("ids"):
        messages.error(request, "Item numbers in the address are not used any more: tick the items in the queue.")
        return HttpResponseRedirect(back)
    if request.method == "POST" and request.POST.get("key"):
        return _confirm(request, back)
    if request.method == "POST" and request.POST.getlist("shown"):
        try:
            selection.update_selection(
                user=request.user, shown=request.POST.getlist("shown"), ticked=request.POST.getlist("ids")
            )
        except ActionRefused as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(back)
    ids = selection.selected_ids(request.user)
    if not ids:
        messages.error(request, "Select at least one item to apply.")
        return HttpResponseRedirect(back)
    return _render_preview(request, ids, back, _date_form(), key=uuid.uuid4().hex)


def _date_form(data=None) -> BulkApplyForm:
    return BulkApplyForm(data, latest=latest_effective_date())


def _render_preview(request, ids, back, form, *, key, status=200) -> HttpResponse:
    preview = preview_bulk_apply(opportunity_ids=ids)
    context = {"preview": preview, "key": key, "token": selection.selection_token(ids), "back": back, "form": form}
    return render(request, "opportunities/bulk_preview.html", context, status=status)


def _confirm(request, back) -> HttpResponse:
    submitted = selectors.bulk_with_key(request.POST["key"])
    if submitted is not None:  # the same form sent twice: it stands once
        messages.info(request, "This bulk apply was already submitted; here is its progress.")
        return redirect_after_post(request, reverse("opportunities:bulk_progress", args=[submitted.pk]))
    ids = selection.selected_ids(request.user)
    if request.POST.get("token") != selection.selection_token(ids):
        messages.error(request, "The selection changed after this preview (in another tab?); check it again.")
        return HttpResponseRedirect(reverse("opportunities:bulk_preview"))
    form = _date_form(request.POST)
    if not form.is_valid():  # the same preview again, with the message; nothing is queued
        return _render_preview(request, ids, back, form, key=request.POST["key"], status=400)
    try:
        bulk, created = start_bulk_apply(
            opportunity_ids=ids,
            idempotency_key=request.POST.get("key", ""),
            actor=request.user,
            effective_on=form.cleaned_data["effective_on"],
        )
    except (ActionRefused, BackgroundUnavailableError) as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(back)
    selection.clear_selection(user=request.user)
    if not created:
        messages.info(request, "This bulk apply was already submitted; here is its progress.")
    return redirect_after_post(request, reverse("opportunities:bulk_progress", args=[bulk.pk]))


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
