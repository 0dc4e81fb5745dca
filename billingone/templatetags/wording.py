"""Small helpers for sentences the templates build around text they are given."""

from django import template

register = template.Library()


@register.filter
def full_stop(text) -> str:
    """``text`` ending in a full stop, unless it already ends a sentence ("first." stays "first.")."""
    text = str(text or "").rstrip()
    return text if not text or text[-1] in ".!?…" else text + "."
