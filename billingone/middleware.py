"""Middleware of the console."""

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

BRANDED_WHEN_EMPTY = {400: "400.html", 403: "403.html", 404: "404.html", 405: "405.html"}


class BrandedErrorPagesMiddleware:
    """Give an error response that has no body of its own (``require_POST``'s 405, a bare
    ``HttpResponseForbidden()``) the console's page for that error, inside the console's frame.

    Responses with a body (a form's 400 with its message, an API's JSON) are left as they are.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        template = BRANDED_WHEN_EMPTY.get(response.status_code)
        if template and not response.streaming and not response.content:
            response.content = render_to_string(template, request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
