"""What every HTMX-aware view shares: the answer to a successful POST, and ``Vary``.

One URL serves a whole page and, for ``HX-Request``, the fragment htmx swaps in; both are cached
apart because every such response goes through :func:`render_page` (or :func:`vary_on_htmx`).
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

HTMX_HEADER = "HX-Request"


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    """Mark a response that differs for htmx requests (the fragment) and plain ones (the page)."""
    patch_vary_headers(response, [HTMX_HEADER])
    return response


def render_page(
    request: HttpRequest, template: str, context: dict, *, fragment: str | None = None, status: int = 200
) -> HttpResponse:
    """Render ``template``, or only its ``fragment`` partial for htmx, with ``Vary: HX-Request``."""
    name = f"{template}#{fragment}" if fragment and request.htmx else template
    return vary_on_htmx(render(request, name, context, status=status))


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: for htmx a 204 with ``HX-Location`` (a 302 would be followed inside
    the XHR and swapped in), a plain 302 otherwise."""
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Location": url})
    return HttpResponseRedirect(url)
