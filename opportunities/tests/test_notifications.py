"""Notifications: new high-severity items after a detection run notify users who may apply."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail

from opportunities import selectors
from opportunities.models import Notification, OpportunityState, Severity
from opportunities.services import notifications
from opportunities.signals import detection_finished

from .factories import OpportunityFactory, detection_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(viewer, finance, admin_user):
    finance.email = "fran@example.com"
    finance.save()
    admin_user.email = "ada@example.com"
    admin_user.save()
    direct = User.objects.create_user("dee", email="dee@example.com")
    direct.user_permissions.add(Permission.objects.get(codename="apply_opportunity"))
    return {"viewer": viewer, "finance": finance, "admin": admin_user, "direct": direct}


def test_new_high_severity_items_notify_users_with_the_apply_permission(people, django_capture_on_commit_callbacks):
    high = OpportunityFactory(severity=Severity.HIGH)
    medium = OpportunityFactory(severity=Severity.MEDIUM)
    old_high = OpportunityFactory(severity=Severity.HIGH)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        detection_finished.send(
            sender=None, run=detection_run(), created_ids=[high.pk, medium.pk], reopened_ids=[old_high.pk]
        )
    notes = Notification.objects.all()
    assert {n.user.username for n in notes} == {"fran", "ada", "dee"}
    assert {n.opportunity_id for n in notes} == {high.pk}
    assert all(n.url == f"/missed-billing/{high.pk}/" for n in notes)
    assert len(callbacks) == 2  # after commit: refresh the queue counts, send the e-mails
    assert not Notification.objects.filter(user=people["viewer"]).exists()


def test_emails_link_to_the_item_and_are_sent_once(people):
    high = OpportunityFactory(severity=Severity.HIGH, client_name="Acme")
    notifications.notify_new_high_severity(opportunity_ids=[high.pk])
    assert notifications.send_pending_emails() == 3
    assert notifications.send_pending_emails() == 0
    assert len(mail.outbox) == 3
    assert f"/missed-billing/{high.pk}/" in mail.outbox[0].body and "Acme" in mail.outbox[0].body


def test_no_notification_for_items_no_longer_open_or_twice(people):
    high = OpportunityFactory(severity=Severity.HIGH)
    ignored = OpportunityFactory(severity=Severity.HIGH, state=OpportunityState.IGNORED)
    assert notifications.notify_new_high_severity(opportunity_ids=[high.pk, ignored.pk]) == 3
    notifications.notify_new_high_severity(opportunity_ids=[high.pk])
    assert Notification.objects.count() == 3


def test_unread_count_and_mark_read(people):
    high = OpportunityFactory(severity=Severity.HIGH)
    notifications.notify_new_high_severity(opportunity_ids=[high.pk])
    fran = people["finance"]
    assert selectors.unread_count(fran) == 1
    notifications.mark_read(user=fran)
    assert selectors.unread_count(fran) == 0
