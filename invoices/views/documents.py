"""Invoice documents: an issued invoice's PDF to download (anyone who may read invoices); a draft
has none until its run is issued."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .. import services
from ..models import DraftInvoice, Invoice

NO_PDF_FOR_A_DRAFT = (
    "A draft invoice has no PDF: it gets its number, its dates and its PDF when its billing run is "
    "issued. Open the draft to see its lines."
)


@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_pdf(request, pk: int) -> HttpResponse:
    """The invoice's PDF as stored at issue (rendered and stored the first time it is asked for)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    response = HttpResponse(services.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{services.pdf_filename(invoice)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@permission_required("invoices.view_invoice", raise_exception=True)
def draft_pdf(request, pk: int) -> HttpResponse:
    """A draft's PDF: the invoice's once the draft is issued; until then, a 404 that says why."""
    draft = get_object_or_404(DraftInvoice.objects.only("pk", "invoice_id"), pk=pk)
    if draft.invoice_id is not None:
        return redirect("invoices:pdf", pk=draft.invoice_id)
    context = {"error_code": 404, "error_title": "A draft has no PDF", "error_text": NO_PDF_FOR_A_DRAFT}
    return render(request, "error_page.html", context, status=404)
