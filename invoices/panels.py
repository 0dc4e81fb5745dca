"""The Invoices section of the client page (registered in InvoicesConfig.ready)."""

from . import selectors


def client_panel(request, client):
    if not request.user.has_perm("invoices.view_invoice"):
        return None
    return "invoices/client_panel.html", selectors.client_panel_context(client)
