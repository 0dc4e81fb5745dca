from django.apps import AppConfig


class BillingoneConfig(AppConfig):
    name = "billingone"
    verbose_name = "BillingOne"

    def ready(self):
        # The filesystem broker needs its folders before the first message.
        from django.conf import settings

        opts = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None)
        if settings.CELERY_BROKER_URL == "filesystem://" and opts:
            import os

            for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
                os.makedirs(opts[key], exist_ok=True)
