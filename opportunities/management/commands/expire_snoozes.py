"""Return snoozed missed-billing items whose date has come to the open queue."""

from django.core.management.base import BaseCommand

from opportunities.services.actions import expire_snoozes


class Command(BaseCommand):
    help = "Snoozed missed-billing items whose date has come go back to the open queue."

    def handle(self, *args, **options):
        count = expire_snoozes()
        self.stdout.write(f"{count} snoozed item{'s' if count != 1 else ''} returned to the queue.")
