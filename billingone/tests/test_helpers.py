"""The shared helpers: htmx answers, text clipping, work on parallel connections."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from billingone.htmx import redirect_after_post, vary_on_htmx
from billingone.parallel import run_side_by_side, threads_for
from billingone.text import clip


def _request(*, htmx: bool):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    request = RequestFactory().post("/", **headers)
    request.htmx = HtmxDetails(request)
    return request


def test_it_answers_htmx_posts_with_hx_location_and_others_with_a_redirect():
    htmx = redirect_after_post(_request(htmx=True), "/invoices/1/")
    plain = redirect_after_post(_request(htmx=False), "/invoices/1/")
    assert (htmx.status_code, htmx["HX-Location"]) == (204, "/invoices/1/")
    assert (plain.status_code, plain["Location"]) == (302, "/invoices/1/")


def test_it_adds_hx_request_to_vary_once():
    response = HttpResponse()
    response["Vary"] = "Cookie"
    vary_on_htmx(vary_on_htmx(response))
    assert response["Vary"] == "Cookie, HX-Request"


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [("short", 10, "short"), ("exactly10!", 10, "exactly10!"), ("a longer note", 8, "a longe…"), (None, 5, "")],
)
def test_it_clips_text_to_the_column_with_an_ellipsis(text, length, expected):
    assert clip(text, length) == expected
    assert len(clip(text, length)) <= length


@pytest.mark.django_db
def test_it_runs_jobs_in_order_and_on_one_connection_inside_a_transaction():
    assert threads_for(4) == 1  # the test's transaction: other connections would not see its rows
    assert run_side_by_side([(pow, (2, n)) for n in range(5)], threads=1) == [1, 2, 4, 8, 16]


@pytest.mark.django_db(transaction=True)
def test_it_returns_results_in_order_from_threads():
    assert run_side_by_side([(pow, (3, n)) for n in range(4)], threads=2) == [1, 3, 9, 27]
