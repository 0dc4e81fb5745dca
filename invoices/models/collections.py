"""Collection episodes (one per delinquency) and the actions fired in them."""

from django.db import models
from django.db.models import Q

from clients.models import Client

from .choices import CollectionActionKind
from .customers import CollectionStep
from .ledger import Invoice


class CollectionEpisode(models.Model):
    """One delinquency of a client: open from its first overdue day until its overdue balance is paid."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="collection_episodes")
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(closed_on__isnull=True),
                name="collection_episode_one_open_per_client",
                violation_error_message="This client already has an open collection episode.",
            ),
        ]

    def __str__(self):
        return f"{self.client}: from {self.opened_on}"


class CollectionAction(models.Model):
    """A collection step that fired in an episode (exactly once), or the lifting of restrictions."""

    episode = models.ForeignKey(CollectionEpisode, on_delete=models.CASCADE, related_name="actions")
    step = models.ForeignKey(CollectionStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=32, choices=CollectionActionKind.choices)
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    fired_on = models.DateField()
    detail = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "step"],
                name="collection_action_once_per_episode",
                violation_error_message="This step already fired in this episode.",
            ),
        ]

    def __str__(self):
        return f"{self.episode}: {self.action} on {self.fired_on}"
