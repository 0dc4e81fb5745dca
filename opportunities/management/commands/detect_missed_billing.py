"""Run missed-billing detection now, for every client or one (``--client ID``)."""

from django.core.management.base import BaseCommand, CommandError

from clients.models import Client
from opportunities.models import DetectionRun
from opportunities.services.detection import run_detection


class Command(BaseCommand):
    help = "Reconcile devices and subscriptions against contract lines and update the missed-billing queue."

    def add_arguments(self, parser):
        parser.add_argument("--client", type=int, help="Only this client (its id).")

    def handle(self, *args, client=None, **options):
        if client is not None and not Client.objects.filter(pk=client).exists():
            raise CommandError(f"No client with id {client}.")
        run = run_detection(trigger=DetectionRun.Trigger.COMMAND, client_ids=[client] if client else None)
        self.stdout.write(
            f"Detection run #{run.pk}: {run.clients_examined} clients, {run.devices_examined} devices, "
            f"{run.subscriptions_examined} subscriptions, {run.lines_examined} contract lines examined; "
            f"{run.created} created, {run.updated} updated, {run.resolved} resolved, {run.unchanged} unchanged "
            f"in {run.duration_ms} ms."
        )
        if not run.examined_anything:
            self.stdout.write(self.style.WARNING("Nothing was examined: import devices or subscriptions first."))
