"""Notifications: new high-severity missed billing after a detection run.

Every user who may apply opportunities (the ``opportunities.apply_opportunity``
permission, through a group, directly, or as a superuser) gets one in-app
notification per new high-severity item, and one e-mail per run listing them.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from billingone.text import clip
from clients.money import format_money

from ..models import Notification, Opportunity, OpportunityState, Severity
from ..signals import detection_finished

PERMISSION = ("opportunities", "apply_opportunity")


def recipients():
    """Active users holding the apply permission (by permission, never by group name)."""
    perm = Permission.objects.filter(content_type__app_label=PERMISSION[0], codename=PERMISSION[1]).first()
    users = get_user_model().objects.filter(is_active=True)
    if perm is None:
        return users.filter(is_superuser=True)
    return users.filter(Q(is_superuser=True) | Q(groups__permissions=perm) | Q(user_permissions=perm)).distinct()


@transaction.atomic
def notify_new_high_severity(*, opportunity_ids) -> int:
    """Create in-app notifications for the open high-severity items among ``opportunity_ids``.

    Returns how many notifications were created; e-mails go out after commit.
    """
    opps = list(
        Opportunity.objects.filter(
            pk__in=list(opportunity_ids or []), severity=Severity.HIGH, state=OpportunityState.OPEN
        )
        .only("pk", "client_name", "description", "monthly_impact")
        .order_by("pk")
    )
    if not opps:
        return 0
    users = list(recipients().only("pk"))
    created = Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                opportunity=opp,
                title=clip(
                    f"High: {opp.client_name} — {opp.description} ({format_money(opp.monthly_impact)} a month)", 300
                ),
                url=opp.get_absolute_url(),
            )
            for user in users
            for opp in opps
        ],
        ignore_conflicts=True,
    )
    if users:
        from ..tasks import send_notification_emails

        transaction.on_commit(lambda: send_notification_emails.delay())
    return len(created)


@receiver(detection_finished, dispatch_uid="opportunities.notify_new_high_severity")
def on_detection_finished(sender, run=None, created_ids=(), **kwargs):
    from ..selectors import invalidate_counts

    transaction.on_commit(invalidate_counts)
    notify_new_high_severity(opportunity_ids=created_ids)


def send_pending_emails() -> int:
    """One e-mail per user for their notifications not yet e-mailed; returns how many e-mails were sent."""
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    sent = 0
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update()
            .filter(emailed_at__isnull=True)
            .select_related("user")
            .order_by("user_id", "id")
        )
        by_user: dict = {}
        for note in pending:
            by_user.setdefault(note.user, []).append(note)
        for user, notes in by_user.items():
            if user.email:
                lines = [f"- {n.title}\n  {base}{n.url}" for n in notes]
                send_mail(
                    subject=f"Missed billing: {len(notes)} new high-severity item{'s' if len(notes) != 1 else ''}",
                    message="New high-severity missed billing was found:\n\n" + "\n".join(lines) + "\n",
                    from_email=None,
                    recipient_list=[user.email],
                )
                sent += 1
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
    return sent


def mark_read(*, user, notification_id=None) -> int:
    """Mark one (or, without an id, every) notification of the user read; returns how many."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
