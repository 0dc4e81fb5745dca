"""Django admin for missed billing; one module per concern, imported here for autodiscovery."""
