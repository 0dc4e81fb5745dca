"""A filtered, paged list page (clients, invoices): one view skeleton, one template include.

The page is the list template (its heading and buttons) around ``includes/list_page.html``; an
htmx request gets only the table (that include's ``list-table`` partial). Filters that do not
parse answer 400 with the box that says so.
"""

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .htmx import render_page


@dataclass(frozen=True)
class Listing:
    url_name: str  # the list's URL name
    target: str  # the id of the table wrapper htmx swaps
    noun: str  # one row, in words ("client"); ``plural`` for the rest
    plural: str
    placeholder: str  # what the search box searches
    rows: str  # the template of the table's head and rows
    default_order: tuple  # without ?sort=
    per_page: int = 50

    @property
    def url(self) -> str:
        return reverse(self.url_name)


def render_list(request: HttpRequest, listing: Listing, filterset, *, template: str) -> HttpResponse:
    context = {"filter": filterset, "listing": listing}
    if not filterset.is_valid():
        return render_page(request, template, context | {"invalid": True}, status=400)
    qs = filterset.qs if request.GET.get("sort") else filterset.qs.order_by(*listing.default_order)
    context["page"] = Paginator(qs, listing.per_page).get_page(request.GET.get("page"))
    if request.htmx:
        return render_page(request, "includes/list_page.html", context, fragment="list-table")
    return render_page(request, template, context)
