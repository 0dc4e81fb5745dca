"""Mapping rules (Admin): the rule list with match counts, unmapped items, rule edits, thresholds."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from clients.dates import org_today
from clients.exports import csv_download

from .. import selectors
from ..forms import MappingRuleForm, ThresholdsForm
from ..models import DetectionSettings, MappingRule
from ..services import rules as rule_services

PREFILL = ("kind", "client", "device_type", "hostname_pattern", "vendor_sku", "note")


# Every unmapped item, one row each, for the download (the page shows the largest groups):
# the list and its columns (header, field), in client order, then by the item's id.
UNMAPPED_EXPORTS = {
    "devices": (
        selectors.unmapped_devices,
        (
            ("Client", "client__name"),
            ("Client RMM id", "client__rmm_id"),
            ("Device id", "device_id"),
            ("Hostname", "hostname"),
            ("Device type", "device_type"),
            ("OS", "os"),
            ("Last seen", "last_seen"),
        ),
    ),
    "subscriptions": (
        selectors.unmapped_subscriptions,
        (
            ("Client", "client__name"),
            ("Client distributor id", "client__distributor_id"),
            ("Subscription id", "subscription_id"),
            ("Vendor SKU", "vendor_sku"),
            ("Product name", "product_name"),
            ("Quantity", "quantity"),
            ("Term", "term"),
        ),
    ),
}


@permission_required("opportunities.change_mappingrule", raise_exception=True)
def rule_list(request) -> HttpResponse:
    unmapped_devices, unmapped_subscriptions = selectors.largest_unmapped_groups()
    context = {
        "rules": selectors.rules_with_matches(),
        "unmapped_devices": unmapped_devices,
        "unmapped_subscriptions": unmapped_subscriptions,
        "thresholds": DetectionSettings.current(),
    }
    return render(request, "opportunities/rules_list.html", context)


@require_safe
@permission_required("opportunities.change_mappingrule", raise_exception=True)
def unmapped_csv(request, source: str) -> HttpResponse:
    """Every unmapped device or subscription as a CSV file (cells that a spreadsheet would evaluate
    are written as text), streamed: one query, read in chunks."""
    if source not in UNMAPPED_EXPORTS:
        raise Http404("There is no such list of unmapped items: devices or subscriptions.")
    items, columns = UNMAPPED_EXPORTS[source]
    header, fields = zip(*columns, strict=True)
    rows = items().order_by("client__name", "pk").values_list(*fields).iterator(chunk_size=2000)
    return csv_download(f"unmapped-{source}-{org_today():%Y-%m-%d}.csv", header, rows)


@permission_required("opportunities.add_mappingrule", raise_exception=True)
def rule_create(request) -> HttpResponse:
    if request.method == "POST":
        form = MappingRuleForm(request.POST)
        if form.is_valid():
            rule = rule_services.save_rule(rule=form.instance, actor=request.user)
            messages.success(request, f"Rule #{rule.pk} saved. The next detection run applies it.")
            return redirect("opportunities:rules")
    else:
        initial = {name: request.GET[name] for name in PREFILL if request.GET.get(name)}
        form = MappingRuleForm(initial=initial)
    return render(request, "opportunities/rules_form.html", {"form": form, "rule": None})


@permission_required("opportunities.change_mappingrule", raise_exception=True)
def rule_edit(request, pk: int) -> HttpResponse:
    rule = get_object_or_404(MappingRule, pk=pk)
    form = MappingRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rule_services.save_rule(rule=form.instance, actor=request.user)
        messages.success(request, f"Rule #{rule.pk} saved. The next detection run applies it.")
        return redirect("opportunities:rules")
    return render(request, "opportunities/rules_form.html", {"form": form, "rule": rule})


@require_POST
@permission_required("opportunities.delete_mappingrule", raise_exception=True)
def rule_delete(request, pk: int) -> HttpResponse:
    rule = get_object_or_404(MappingRule, pk=pk)
    rule_services.delete_rule(rule=rule)
    messages.success(request, f"Rule #{pk} deleted. The next detection run re-maps what it matched.")
    return redirect("opportunities:rules")


@permission_required("opportunities.change_detectionsettings", raise_exception=True)
def thresholds(request) -> HttpResponse:
    current = DetectionSettings.current()
    form = ThresholdsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.updated_by = request.user
        saved.save()
        messages.success(request, "Severity thresholds saved. The next detection run re-grades every item.")
        return redirect("opportunities:rules")
    return render(request, "opportunities/rules_thresholds.html", {"form": form}, status=400 if form.errors else 200)
