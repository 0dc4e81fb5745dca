"""Every error a person can meet is a page of the console that says what happened and where to go."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error


def _page(response):
    return response.content.decode()


@pytest.mark.django_db
def test_a_missing_page_is_branded_and_points_home(finance_client):
    response = finance_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "There is nothing at this address" in _page(response)
    assert 'href="/"' in _page(response) and "Go to Home" in _page(response)
    assert 'class="topbar"' in _page(response)  # inside the console's frame, with its menu


@pytest.mark.django_db
def test_a_role_without_the_permission_gets_a_page_that_says_why(viewer_client):
    response = viewer_client.get(reverse("invoices:record_payment"))
    assert response.status_code == 403
    assert "You are not allowed to do this" in _page(response)
    assert "An Admin can change your role" in _page(response)


@pytest.mark.django_db
def test_opening_a_post_only_address_explains_itself_and_keeps_allow(finance_client):
    response = finance_client.get(reverse("logout"))
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert "This address does not work that way" in _page(response)
    assert "nothing was changed" in _page(response)


@pytest.mark.django_db
def test_an_expired_form_says_so_and_what_to_do(finance, client):
    client.force_login(finance)
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(finance)
    response = strict.post(reverse("logout"))
    assert response.status_code == 403
    assert "This form has expired" in _page(response)
    assert "Reload the page" in _page(response)


@pytest.mark.django_db
def test_a_bad_request_is_branded(finance_client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = finance_client.get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert "This request could not be understood" in _page(response)


def test_a_server_error_page_needs_no_database_and_says_nothing_was_saved():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in _page(response)
    assert "was not saved" in _page(response)


@pytest.mark.django_db
def test_a_form_error_keeps_its_own_message(finance_client):
    response = finance_client.get(reverse("invoices:list"), {"sort": "nonsense"})
    assert response.status_code == 400
    assert "This request could not be understood" not in _page(response)


@pytest.mark.django_db
def test_a_nul_character_in_an_ignore_reason_is_refused_and_changes_nothing(finance_client):
    from opportunities.models import OpportunityState
    from opportunities.tests.factories import OpportunityFactory

    opp = OpportunityFactory()
    response = finance_client.post(reverse("opportunities:ignore", args=[opp.pk]), {"reason": "dup\x00licate"})
    assert response.status_code == 400
    assert "cannot be stored" in response.content.decode() and "nothing was changed" in response.content.decode()
    opp.refresh_from_db()
    assert opp.state == OpportunityState.OPEN


@pytest.mark.django_db
def test_a_nul_character_in_a_bulk_apply_key_or_a_query_string_is_refused(finance_client):
    from opportunities.models import BulkApply

    response = finance_client.post(reverse("opportunities:bulk_preview"), {"ids": ["1"], "key": "k\x00"})
    assert response.status_code == 400 and not BulkApply.objects.exists()
    assert finance_client.get(reverse("opportunities:queue"), {"q": "acme\x00"}).status_code == 400
