"""Text helpers shared by every app."""

ELLIPSIS = "…"


def clip(text, length: int) -> str:
    """``text`` as a string cut to at most ``length`` characters (what the column holds), ending
    with an ellipsis when something was cut so a reader knows there was more."""
    text = "" if text is None else str(text)
    if len(text) <= length:
        return text
    return text[: max(0, length - 1)] + ELLIPSIS
