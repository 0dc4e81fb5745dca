from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = "Missed billing"

    def ready(self):
        from clients.roles import declare

        # Everyone reads the queue; Finance acts on it; Admin also runs detection
        # on demand and (through the model permissions) manages rules and imports.
        declare(
            "opportunities",
            finance=[
                "apply_opportunity",
                "snooze_opportunity",
                "ignore_opportunity",
                "review_opportunity",
                "reopen_opportunity",
            ],
            admin=["run_detection"],
        )

        # The Celery tasks (registered in every process, not only where Celery autodiscovers), the
        # detection_finished receiver (notifications) and the client page's panel.
        from clients.panels import register

        from . import tasks  # noqa: F401
        from .panels import client_panel
        from .services import notifications  # noqa: F401

        register(client_panel)
