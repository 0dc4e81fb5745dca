"""CSV imports (Admin): upload → check → preview → commit, with a progress bar for large files."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billingone.htmx import vary_on_htmx

from ..forms import ImportUploadForm
from ..models import SourceImport
from ..services import imports as import_services

PAGE_SIZE = 25


def _list_context(request, form):
    page = Paginator(SourceImport.objects.select_related("uploaded_by"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page}
    if not request.htmx:  # the history fragment does not show the snapshot sizes
        context["snapshot"] = import_services.summary_counts()
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
        imp = import_services.create_import(
            source=form.cleaned_data["source"], uploaded_file=form.cleaned_data["file"], actor=request.user
        )
    except import_services.ImportRejectedError as exc:
        form.add_error("file", str(exc))
        return render(request, "opportunities/import_list.html", _list_context(request, form), status=400)
    if import_services.runs_in_background(imp):
        from ..tasks import process_import

        transaction.on_commit(lambda: process_import.delay(imp.pk, "validate"))
    else:
        import_services.validate_import(imp=imp)
    return redirect(imp)


@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_detail(request, pk: int) -> HttpResponse:
    imp = get_object_or_404(SourceImport.objects.select_related("uploaded_by", "committed_by", "detection_run"), pk=pk)
    context = {"imp": imp, "progress": import_services.progress_of(imp) if imp.is_busy else imp.progress}
    template = "opportunities/import_detail.html#import-status" if request.htmx else "opportunities/import_detail.html"
    response = render(request, template, context)
    vary_on_htmx(response)
    return response


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_commit(request, pk: int) -> HttpResponse:
    imp = get_object_or_404(SourceImport, pk=pk)
    if imp.status != SourceImport.Status.READY:
        messages.error(request, "Only a checked import without errors can be committed.")
        return redirect(imp)
    if import_services.runs_in_background(imp):
        from ..tasks import process_import

        SourceImport.objects.filter(pk=imp.pk).update(status=SourceImport.Status.COMMITTING, progress=0)
        user_id = request.user.pk
        transaction.on_commit(lambda: process_import.delay(imp.pk, "commit", user_id=user_id))
        return redirect(imp)
    imp = import_services.commit_import(imp=imp, actor=request.user)
    if imp.status == SourceImport.Status.COMMITTED:
        messages.success(request, f"Imported {imp.rows_total} rows; detection is queued for the clients it touched.")
    elif imp.status in (SourceImport.Status.FAILED, SourceImport.Status.READY):
        messages.error(request, imp.message)
    else:
        messages.error(request, "Nothing was imported: the file no longer passes the checks.")
    return redirect(imp)


@require_POST
@permission_required("opportunities.add_sourceimport", raise_exception=True)
def import_discard(request, pk: int) -> HttpResponse:
    imp = get_object_or_404(SourceImport, pk=pk)
    import_services.discard_import(imp=imp)
    messages.success(request, "Import discarded; nothing was changed.")
    return redirect("opportunities:imports")
