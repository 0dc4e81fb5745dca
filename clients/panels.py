"""Sections other apps add to the client page, without ``clients`` importing them.

An app registers a provider in its ``AppConfig.ready()``::

    from clients.panels import register
    register(my_provider)   # my_provider(request, client) -> (template_name, context) | None

Providers run in registration order (INSTALLED_APPS order); each must run a fixed
number of queries.
"""

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

_providers = []


def register(provider):
    if provider not in _providers:
        _providers.append(provider)
    return provider


def render_panels(request, client) -> list[str]:
    rendered = []
    for provider in _providers:
        result = provider(request, client)
        if result:
            template_name, context = result
            rendered.append(mark_safe(render_to_string(template_name, {"client": client, **context}, request=request)))
    return rendered
