"""How the console names a person: their full name, else their user name."""

from django import template

register = template.Library()


@register.filter
def person(user, missing="—") -> str:
    """``{{ event.actor|person }}``; ``{{ run.triggered_by|person:"the schedule" }}`` for no one."""
    if user is None:
        return missing
    return user.get_full_name() or user.get_username()
