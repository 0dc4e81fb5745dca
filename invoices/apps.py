from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self):
        from clients.panels import register
        from clients.roles import declare

        # Everyone reads invoices; Finance records payments and resends invoices;
        # Admin manages everything (customer classes, collection steps) in Django admin.
        # Finance also creates, rebuilds, cancels and issues billing runs.
        declare(
            "invoices",
            finance=["add_payment", "resend_invoice", "add_billingrun", "change_billingrun", "issue_billingrun"],
        )

        from clients import billing_calendar

        from . import selectors
        from .panels import client_panel

        register(client_panel)
        billing_calendar.register(selectors.first_unbilled_month, many=selectors.first_unbilled_months)
