"""Clients pages: a searchable list and a client page."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from billingone.htmx import vary_on_htmx

from . import selectors
from .filters import ClientFilter
from .models import Client
from .panels import render_panels

PAGE_SIZE = 50


@permission_required("clients.view_client", raise_exception=True)
def client_list(request) -> HttpResponse:
    filterset = ClientFilter(request.GET, queryset=selectors.client_list())
    if not filterset.is_valid():
        return render(request, "clients/client_list.html", {"filter": filterset, "invalid": True}, status=400)
    qs = filterset.qs
    if "sort" not in request.GET or not request.GET.get("sort"):
        qs = qs.order_by("name", "id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "clients/client_list.html#client-table" if request.htmx else "clients/client_list.html"
    response = render(request, template, {"filter": filterset, "page": page})
    vary_on_htmx(response)
    return response


@permission_required("clients.view_client", raise_exception=True)
def client_detail(request, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    contracts = list(selectors.client_detail_contracts(client))
    today = selectors.org_today()
    for contract in contracts:
        contract.in_force = contract.is_in_force(today)
        contract.monthly_total = sum((line.monthly_total for line in contract.lines.all()), selectors.ZERO)
    context = {
        "client": client,
        "contracts": contracts,
        "mrr": sum((c.monthly_total for c in contracts if c.in_force), selectors.ZERO),
        "status_changes": client.status_changes.select_related("actor")[:20],
        "panels": render_panels(request, client),
    }
    return render(request, "clients/client_detail.html", context)
