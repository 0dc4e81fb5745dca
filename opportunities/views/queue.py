"""The queue page: tabs, search and filters, select mode for bulk apply (the selection kept on the
server); one URL for page and fragment."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from billingone.htmx import vary_on_htmx

from .. import selectors
from ..filters import QueueFilter
from ..models import Opportunity
from ..services import selection
from ..services.actions import ActionRefused
from ..services.bulk import incompatibility, is_ready

FILTER_FORM_ID = "queue-filters"


def _change_selection(request, base) -> str:
    """A POST from select mode: tick or untick (one page, or every match) or clear. Returns the
    message for the page ('' when there is nothing to say)."""
    try:
        if request.POST.get("clear"):
            selection.clear_selection(user=request.user)
            return "Selection cleared."
        if request.POST.get("select_matching"):
            count, capped = selection.select_matching(user=request.user, queryset=base)
            limit = f"{selection.MAX_ITEMS:,}"
            return f"Selected the first {limit}: a bulk apply takes at most that many." if capped else ""
        shown = request.POST.getlist("shown")
        ticked = shown if request.POST.get("select_page") else request.POST.getlist("ids")
        selection.update_selection(user=request.user, shown=shown, ticked=ticked)
    except ActionRefused as exc:
        return str(exc)
    return ""


@permission_required("opportunities.view_opportunity", raise_exception=True)
def queue(request) -> HttpResponse:
    """GET: the queue. POST (select mode, Finance+): change the selection, then the same page."""
    can_apply = request.user.has_perm("opportunities.apply_opportunity")
    if request.method == "POST" and not can_apply:
        raise PermissionDenied
    filterset = QueueFilter(request.GET or None, queryset=Opportunity.objects.all())
    if request.GET and not filterset.is_valid():
        response = render(request, "opportunities/queue.html", {"filter": filterset, "invalid": True}, status=400)
        vary_on_htmx(response)
        return response
    tab = filterset.current_tab
    data = filterset.form.cleaned_data if request.GET else {}
    searching = bool((data.get("q") or "").strip())
    client_id = data.get("client") or data.get("clientId")
    scope = (
        repr((data.get("q", "").strip().lower(), data.get("severity") or "", client_id))
        if searching or client_id
        else None
    )
    base = filterset.qs if request.GET else Opportunity.objects.all()
    # query: every tab's count and impact, grouped (none when cached and nothing changed since)
    counts = selectors.tab_counts(base, severity=data.get("severity"), scope=scope)
    select_mode = tab == "ready" and request.GET.get("select") == "1" and can_apply
    selection_message = ""
    if request.method == "POST" and select_mode:
        selection_message = _change_selection(request, base)
        if not request.htmx and not selection_message:
            return HttpResponseRedirect(request.get_full_path())
    page = selectors.queue_page(
        base,
        tab=tab,
        count=counts[tab].count,
        page_number=request.GET.get("page"),
        # Few matches: sort them; many: walking the queue-order index finds a page of them at once.
        sort_matches=searching and counts[tab].count < selectors.SORT_MATCHES_BELOW,
        with_product=select_mode,
    )
    rows = list(page)  # query: the page's rows

    selected = set()
    if select_mode:
        selected = set(selection.selected_ids(request.user))  # query: the person's selection
        anchor = selection.selection_anchor(request.user)  # query: the item the others must match
        for row in rows:
            row.disabled_reason = incompatibility(row, anchor) if row.pk not in selected else ""
    else:
        for row in rows:
            row.bulk_ready = is_ready(row)

    context = {
        "filter": filterset,
        "tab": tab,
        "tabs": counts.values(),
        "current": counts[tab],
        "page": page,
        "rows": rows,
        "client_obj": filterset.client_obj if request.GET else None,
        "select_mode": select_mode,
        "selected": selected,
        "selection_message": selection_message,
        "max_items": selection.MAX_ITEMS,
        "run": selectors.latest_run(),  # query: the latest detection run
        "can_apply": can_apply,
    }
    if request.htmx:
        context["include_form"] = request.htmx.trigger != FILTER_FORM_ID
        response = render(request, "opportunities/queue_fragment.html", context)
    else:
        response = render(request, "opportunities/queue.html", context)
    vary_on_htmx(response)
    return response
