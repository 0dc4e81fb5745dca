"""The queue page: tabs, search and filters, select mode for bulk apply; one URL for page and fragment."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render

from billingone.htmx import vary_on_htmx

from .. import selectors
from ..filters import QueueFilter
from ..models import Opportunity
from ..services.bulk import incompatibility, is_ready, selection_anchor

FILTER_FORM_ID = "queue-filters"


def _selected_ids(request) -> list[int]:
    ids = []
    for raw in request.GET.getlist("ids")[:500]:
        if raw.isdigit():
            ids.append(int(raw))
    return ids


@permission_required("opportunities.view_opportunity", raise_exception=True)
def queue(request) -> HttpResponse:
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
    select_mode = tab == "ready" and request.GET.get("select") == "1"
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
        selected = set(_selected_ids(request))
        anchor = selection_anchor([r for r in rows if r.pk in selected])
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
        "run": selectors.latest_run(),  # query: the latest detection run
        "can_apply": request.user.has_perm("opportunities.apply_opportunity"),
    }
    if request.htmx:
        context["include_form"] = request.htmx.trigger != FILTER_FORM_ID
        response = render(request, "opportunities/queue_fragment.html", context)
    else:
        response = render(request, "opportunities/queue.html", context)
    vary_on_htmx(response)
    return response
