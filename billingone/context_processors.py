from django.conf import settings


def organisation(request):
    """The organisation's name and currency for every page."""
    return {"ORGANISATION_NAME": settings.ORGANISATION_NAME, "CURRENCY": settings.ORGANISATION_CURRENCY}


def background(request):
    """Whether background work is unavailable (a quiet banner in the header); looked up lazily, at
    most every few seconds per process."""
    from django.utils.functional import SimpleLazyObject

    from .background import broker_problem

    return {"background_unavailable": SimpleLazyObject(lambda: bool(broker_problem()))}
