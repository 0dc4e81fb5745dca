"""Clients pages: a searchable list, a client page and the client picker's suggestions."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from billingone.lists import Listing, render_list

from . import selectors
from .filters import ClientFilter
from .models import Client
from .panels import render_panels

PAGE_SIZE = 50


CLIENTS = Listing(
    url_name="clients:list",
    target="client-table",
    noun="client",
    plural="clients",
    placeholder="Search name or external id",
    rows="clients/client_rows.html",
    default_order=("name", "id"),
    per_page=PAGE_SIZE,
)


@permission_required("clients.view_client", raise_exception=True)
def client_list(request) -> HttpResponse:
    filterset = ClientFilter(request.GET, queryset=selectors.client_list())
    return render_list(request, CLIENTS, filterset, template="clients/client_list.html")


@permission_required("clients.view_client", raise_exception=True)
def client_detail(request, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    context = selectors.client_page(client) | {"panels": render_panels(request, client)}
    return render(request, "clients/client_detail.html", context)


@permission_required("clients.view_client", raise_exception=True)
def pick(request) -> HttpResponse:
    """The client picker's suggestions for what has been typed (an htmx fragment)."""
    term = request.GET.get("client_search", request.GET.get("q", ""))[:100].strip()
    context = {"clients": selectors.clients_matching(term), "term": term, "limit": selectors.PICK_LIMIT}
    response = render(request, "clients/picker_options.html", context)
    response["Cache-Control"] = "private, max-age=30"
    return response
