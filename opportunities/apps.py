from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = "Missed billing"

    def ready(self):
        # Queue half (issue 4): Celery tasks, the detection_finished receiver, the client-page panel.
        from clients.panels import register

        from . import tasks_queue  # noqa: F401
        from .panels import client_panel
        from .services import notifications  # noqa: F401

        register(client_panel)
