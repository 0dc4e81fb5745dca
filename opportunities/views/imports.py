"""CSV imports (Admin): upload → check → preview → commit, with a progress bar for large files."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billingone.background import BackgroundUnavailableError
from billingone.htmx import vary_on_htmx

from .. import selectors
from ..forms import ImportUploadForm
from ..models import SourceImport
from ..services import imports as import_services

PAGE_SIZE = 25


def _list_context(request, form):
    context = {"form": form, "page": selectors.import_history(request.GET.get("page"), per_page=PAGE_SIZE)}
    if not request.htmx:  # the history fragment does not show the snapshot sizes
        context["snapshot"] = selectors.summary_counts()
    return context


@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_list(request) -> HttpResponse:
    template = "opportunities/import_list.html#import-table" if request.htmx else "opportunities/import_list.html"
    response = render(request, template, _list_context(request, ImportUploadForm()))
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_upload(request) -> HttpResponse:
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "opportunities/import_list.html", _list_context(request, form), status=400)
    try:
        imp = import_services.upload_import(
            source=form.cleaned_data["source"],
            uploaded_file=form.cleaned_data["file"],
            actor=request.user,
            effective_on=form.cleaned_data["effective_on"],
        )
    except (import_services.ImportRejectedError, BackgroundUnavailableError) as exc:
        form.add_error("file", str(exc))
        return render(request, "opportunities/import_list.html", _list_context(request, form), status=400)
    return redirect(imp)


@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_detail(request, pk: int) -> HttpResponse:
    imp = selectors.import_for_page(pk)
    if imp is None:
        raise Http404("No such import.")
    context = {"imp": imp, "progress": selectors.progress_of(imp)}
    template = "opportunities/import_detail.html#import-status" if request.htmx else "opportunities/import_detail.html"
    response = render(request, template, context)
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_commit(request, pk: int) -> HttpResponse:
    imp = get_object_or_404(SourceImport, pk=pk)
    try:
        imp = import_services.request_commit(imp=imp, actor=request.user)
    except (import_services.ImportRejectedError, BackgroundUnavailableError) as exc:
        messages.error(request, str(exc))
        return redirect(imp)
    # COMMITTING: a worker commits it, and the page follows its progress.
    if imp.status == SourceImport.Status.COMMITTED:
        messages.success(request, f"Imported {imp.rows_total} rows; detection is queued for the clients it touched.")
    elif imp.status in (SourceImport.Status.FAILED, SourceImport.Status.READY):
        messages.error(request, imp.message)
    elif imp.status == SourceImport.Status.INVALID:
        messages.error(request, "Nothing was imported: the file no longer passes the checks.")
    return redirect(imp)


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_discard(request, pk: int) -> HttpResponse:
    imp = get_object_or_404(SourceImport, pk=pk)
    try:
        import_services.discard_import(imp=imp)
    except import_services.ImportRejectedError as exc:
        messages.error(request, str(exc))
        return redirect(imp)
    messages.success(request, "Import discarded; nothing was changed.")
    return redirect("opportunities:imports")


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_resume(request, pk: int) -> HttpResponse:
    """Check or commit again an import whose work stopped."""
    imp = get_object_or_404(SourceImport, pk=pk)
    try:
        imp = import_services.resume_import(imp=imp, actor=request.user)
    except (import_services.ImportRejectedError, BackgroundUnavailableError) as exc:
        messages.error(request, str(exc))
    else:
        if imp.status == SourceImport.Status.COMMITTED:
            messages.success(
                request, f"Imported {imp.rows_total} rows; detection is queued for the clients it touched."
            )
        elif not imp.is_busy and imp.message:
            messages.error(request, imp.message)
    return redirect(imp)
