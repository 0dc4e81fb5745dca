"""Guessing passwords is throttled: the console's sign-in and Django admin's, per user and address."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.urls import reverse

WRONG = {"username": "fran", "password": "not-the-password"}
RIGHT = {"username": "fran", "password": "pw-fran"}


def _fail(client, times, url=None, **data):
    for _ in range(times):
        client.post(url or reverse("login"), {**WRONG, **data}, REMOTE_ADDR=data.pop("addr", "10.0.0.1"))


@pytest.mark.django_db
def test_the_right_password_after_five_wrong_ones_is_refused_with_a_message(client, finance):
    _fail(client, 5)
    response = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_user_name_is_locked_whatever_address_the_guesses_come_from(client, finance):
    for n in range(5):
        client.post(reverse("login"), WRONG, REMOTE_ADDR=f"10.0.1.{n}")
    response = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.0.2.1")
    assert response.status_code == 429


@pytest.mark.django_db
def test_an_address_is_locked_whatever_user_names_it_tries(client, finance):
    User.objects.create_user(username="other", password="pw-other")
    for name in ("a", "b", "c", "d", "e"):
        client.post(reverse("login"), {"username": name, "password": "x"}, REMOTE_ADDR="10.0.3.3")
    response = client.post(reverse("login"), {"username": "other", "password": "pw-other"}, REMOTE_ADDR="10.0.3.3")
    assert response.status_code == 429


@pytest.mark.django_db
def test_four_failures_then_the_right_password_signs_in_and_clears_the_count(client, finance):
    _fail(client, 4)
    response = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="fran", failures_since_start__gt=0).exists()


@pytest.mark.django_db
def test_django_admin_sign_in_is_throttled_too(client, admin_user):
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": admin_user.username, "password": "x"}, REMOTE_ADDR="10.0.4.4")
    response = client.post(
        reverse("admin:login"),
        {"username": admin_user.username, "password": f"pw-{admin_user.username}"},
        REMOTE_ADDR="10.0.4.4",
    )
    assert response.status_code == 429


@pytest.mark.django_db
def test_an_admin_unlocks_a_user_by_clearing_the_attempts_in_django_admin(client, finance, admin_user):
    _fail(client, 5)
    assert admin_user.has_perm("axes.delete_accessattempt") and admin_user.has_perm("axes.view_accessattempt")
    assert not finance.has_perm("axes.delete_accessattempt")
    admin = type(client)()
    admin.force_login(admin_user)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "fran" in listing.content.decode()
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    response = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302
