"""The detail page and the actions on one item (plain POST forms, redirect after success)."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from billingone.htmx import redirect_after_post
from clients.dates import display_date, org_date, org_today

from .. import selectors
from ..forms import EffectiveDateForm
from ..models import Opportunity, OpportunityState
from ..services import actions
from ..services.actions import ActionRefused


def _get_opportunity(pk: int) -> Opportunity:
    try:
        return selectors.opportunity_for_detail(pk)
    except Opportunity.DoesNotExist:
        raise Http404("No such missed-billing item.") from None


def _detail_context(request, opp, **extra) -> dict:
    return {
        "opp": opp,
        "devices": selectors.related_devices(opp),
        "subscriptions": selectors.related_subscriptions(opp),
        "lines": selectors.related_lines(opp),
        "events": selectors.history(opp),
        "default_snooze": actions.default_snooze_date(),
        "min_snooze": org_today() + dt.timedelta(days=1),
        "max_snooze": actions.latest_snooze_date(),
        "actionable": opp.state in actions.ACTIONABLE,
        "reopenable": opp.state in actions.REOPENABLE,
        "first_found": org_date(opp.first_detected_at),
        **extra,
    }


@permission_required("opportunities.view_opportunity", raise_exception=True)
def detail(request, pk: int) -> HttpResponse:
    opp = _get_opportunity(pk)
    return render(request, "opportunities/detail.html", _detail_context(request, opp))


def _done(request, opp, message):
    messages.success(request, message)
    return redirect_after_post(request, opp.get_absolute_url())


def _refused(request, opp, exc, **extra):
    context = _detail_context(request, opp, error=str(exc), **extra)
    return render(request, "opportunities/detail.html", context, status=400)


@require_POST
@permission_required("opportunities.snooze_opportunity", raise_exception=True)
def snooze(request, pk: int) -> HttpResponse:
    opp = _get_opportunity(pk)
    raw = request.POST.get("until", "").strip()
    try:
        until = dt.date.fromisoformat(raw)
    except ValueError:
        return _refused(request, opp, f"“{raw}” is not a date; use the date picker (YYYY-MM-DD).")
    try:
        actions.snooze_opportunity(opportunity=opp, until=until, actor=request.user)
    except ActionRefused as exc:
        return _refused(request, opp, exc)
    return _done(request, opp, f"Snoozed until {display_date(until)}.")


@require_POST
@permission_required("opportunities.ignore_opportunity", raise_exception=True)
def ignore(request, pk: int) -> HttpResponse:
    opp = _get_opportunity(pk)
    reason = request.POST.get("reason", "")
    if len(reason) > 300:
        return _refused(request, opp, "Keep the reason under 300 characters.")
    try:
        actions.ignore_opportunity(opportunity=opp, reason=reason, actor=request.user)
    except ActionRefused as exc:
        return _refused(request, opp, exc)
    return _done(request, opp, "Ignored.")


@require_POST
@permission_required("opportunities.review_opportunity", raise_exception=True)
def review(request, pk: int) -> HttpResponse:
    opp = _get_opportunity(pk)
    try:
        actions.mark_reviewed(opportunity=opp, actor=request.user)
    except ActionRefused as exc:
        return _refused(request, opp, exc)
    return _done(request, opp, "Marked reviewed.")


@require_POST
@permission_required("opportunities.reopen_opportunity", raise_exception=True)
def reopen(request, pk: int) -> HttpResponse:
    opp = _get_opportunity(pk)
    try:
        actions.reopen_opportunity(opportunity=opp, actor=request.user)
    except ActionRefused as exc:
        return _refused(request, opp, exc)
    return _done(request, opp, "Reopened: the item is back in the Open tab.")


@require_POST
@permission_required("opportunities.apply_opportunity", raise_exception=True)
def recheck(request, pk: int) -> HttpResponse:
    """Check the item's client again (a detection run for that client alone)."""
    opp = actions.recheck_client(opportunity=_get_opportunity(pk), actor=request.user)
    if opp.state == OpportunityState.RESOLVED:
        message = f"Checked {opp.client_name} again: the billing now lines up, so this item resolved itself."
    else:
        message = f"Checked {opp.client_name} again: the plan below is up to date."
    return _done(request, opp, message)


def _effective_form(opp, data=None) -> EffectiveDateForm:
    """The apply date: what was sent, or else the default for this item."""
    initial = {"effective_on": actions.default_effective_date(opp)}
    return EffectiveDateForm(data, initial=initial, latest=actions.latest_effective_date())


def _confirm_context(opp, form) -> dict:
    return {
        "opp": opp,
        "form": form,
        "default_effective": form.initial["effective_on"],
        "first_found": org_date(opp.first_detected_at),
    }


@permission_required("opportunities.apply_opportunity", raise_exception=True)
def apply(request, pk: int) -> HttpResponse:
    """GET: the confirmation showing the plan and the date it takes effect from; POST: apply it."""
    opp = _get_opportunity(pk)
    template = "opportunities/detail_apply_confirm.html"
    if request.method == "POST":
        form = _effective_form(opp, request.POST)
        if not form.is_valid():
            return render(request, template, _confirm_context(opp, form), status=400)
        effective_on = form.cleaned_data["effective_on"]
        try:
            actions.apply_opportunity(opportunity=opp, actor=request.user, effective_on=effective_on)
        except ActionRefused as exc:
            opp = _get_opportunity(pk)
            return _refused(request, opp, f"Not applied: {exc}")
        return _done(request, opp, f"Applied: the contract was updated. It changes from {display_date(effective_on)}.")
    if opp.state == OpportunityState.APPLIED or not opp.ready_to_apply:
        messages.error(request, "This item cannot be applied.")
        return HttpResponseRedirect(opp.get_absolute_url())
    # "?effective_on=…" (the hint's link) proposes another date; the form checks it like a POST.
    asked = request.GET.get("effective_on")
    form = _effective_form(opp, {"effective_on": asked} if asked else None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, template, _confirm_context(opp, form), status=status)
