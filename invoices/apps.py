from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self):
        from clients.panels import register

        from .panels import client_panel

        register(client_panel)
