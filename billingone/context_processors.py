from django.conf import settings


def organisation(request):
    """The organisation's name and currency for every page."""
    return {"ORGANISATION_NAME": settings.ORGANISATION_NAME, "CURRENCY": settings.ORGANISATION_CURRENCY}
