from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self):
        from clients.panels import register
        from clients.roles import declare

        # Everyone reads invoices; Finance records payments and resends invoices;
        # Admin manages everything (customer classes, collection steps) in Django admin.
        declare("invoices", finance=["add_payment", "resend_invoice"])

        from .panels import client_panel

        register(client_panel)
