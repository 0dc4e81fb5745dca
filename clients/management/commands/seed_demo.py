"""Build the demo MSP. Each installed app may contribute a ``<app>/demo.py`` with ``seed(stdout)``."""

import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings


class Command(BaseCommand):
    help = "Create the demo data and demo logins (deterministic, idempotent)."

    def handle(self, *args, **options):
        # The demo's history sends collection e-mails; keep them out of the terminal.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            for app_config in apps.get_app_configs():
                module_name = f"{app_config.name}.demo"
                if importlib.util.find_spec(module_name) is None:
                    continue
                module = importlib.import_module(module_name)
                with transaction.atomic():
                    module.seed(stdout=self.stdout)
        from clients.demo import DEMO_PASSWORD, DEMO_USERS

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Demo logins (password: {DEMO_PASSWORD}):"))
        for username, role, _name, _staff in DEMO_USERS:
            self.stdout.write(f"  {role:<8} {username}")
