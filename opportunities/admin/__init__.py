"""Django admin for missed billing; one module per concern, imported here for autodiscovery."""

from . import sources  # noqa: E402, F401
