"""Middleware of the console."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string

NUL = "\x00"

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


class RefuseNulCharactersMiddleware:
    """Answer 400, changing nothing, when a query string, a form field or an uploaded file's name
    holds a NUL character: no text column (PostgreSQL's in particular) can store one, so every
    text input is refused here, before any view writes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._holds_nul(request):
            return HttpResponseBadRequest(render_to_string("400_nul.html", request=request))
        return self.get_response(request)

    @staticmethod
    def _holds_nul(request) -> bool:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sources.append(request.POST)
            if any(NUL in (upload.name or "") for upload in request.FILES.values()):
                return True
        return any(
            NUL in key or any(NUL in value for value in values) for data in sources for key, values in data.lists()
        )
