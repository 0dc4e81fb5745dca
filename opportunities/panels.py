"""The "Missed billing" section of the client page (registered in OpportunitiesConfig.ready())."""


def client_panel(request, client):
    from .selectors import client_summary

    return "opportunities/client_panel.html", {"missed_billing": client_summary(client.pk)}
