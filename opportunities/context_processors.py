"""The header bell: the signed-in user's unread notifications, counted lazily (at most one query)."""

from django.utils.functional import SimpleLazyObject


def notifications(request):
    def count():
        from .selectors import unread_count

        return unread_count(getattr(request, "user", None))

    return {"unread_notifications": SimpleLazyObject(count)}
