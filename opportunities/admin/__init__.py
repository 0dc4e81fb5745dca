"""Django admin for missed billing; one module per concern, imported here for autodiscovery."""

from . import (
    queue,  # noqa: E402, F401
    sources,  # noqa: E402, F401
)
