"""Invoice pages: the search table, an invoice, recording a payment, resending."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from billingone.htmx import redirect_after_post
from billingone.lists import Listing, render_list
from clients.dates import org_today
from clients.money import format_money

from .. import selectors, services
from ..filters import InvoiceFilter
from ..forms import PaymentForm
from ..models import Invoice

PAGE_SIZE = 50


def _next_url(request):
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return None


INVOICES = Listing(
    url_name="invoices:list",
    target="invoice-table",
    noun="invoice",
    plural="invoices",
    placeholder="Search number or client",
    rows="invoices/invoice_rows.html",
    default_order=("-issued_on", "-sequence", "-id"),
    per_page=PAGE_SIZE,
)


@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_list(request) -> HttpResponse:
    filterset = InvoiceFilter(request.GET, queryset=selectors.invoice_list())
    return render_list(request, INVOICES, filterset, template="invoices/invoice_list.html")


@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_detail(request, pk: int) -> HttpResponse:
    context = selectors.invoice_page(pk)
    if context is None:
        raise Http404("No such invoice.")
    invoice = context["invoice"]
    context["payment_form"] = PaymentForm(initial={"client": invoice.client_id, "received_on": org_today()})
    return render(request, "invoices/invoice_detail.html", context)


@permission_required("invoices.add_payment", raise_exception=True)
def record_payment(request) -> HttpResponse:
    if request.method == "POST":
        form = PaymentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payment, created = services.receive_payment(
                    data["client"],
                    amount=data["amount"],
                    received_on=data["received_on"],
                    reference=data["reference"],
                    method=data["method"],
                    recorded_by=request.user,
                    backdated_confirmed=data["backdated_confirmed"],
                )
            except ValidationError as exc:
                form = _with_service_errors(request, exc)
            else:
                if not created:  # the same payment entered twice: it stands once, and we say where
                    messages.info(request, _already_recorded(payment))
                    return redirect_after_post(request, _payment_url(payment))
                messages.success(
                    request,
                    f"Payment {payment.reference} of {format_money(payment.amount)} recorded for {payment.client}."
                    + (f" {format_money(payment.unallocated)} left as credit." if payment.unallocated else ""),
                )
                return redirect_after_post(
                    request, _next_url(request) or reverse("clients:detail", args=[payment.client_id])
                )
        status = 400
    else:
        form = PaymentForm(initial={"client": request.GET.get("client"), "received_on": org_today()})
        status = 200
    return render(request, "invoices/payment_form.html", {"form": form}, status=status)


def _with_service_errors(request, exc: ValidationError) -> PaymentForm:
    """The form again, with the service's messages on its fields (and the back-dating box when the
    service asks for it)."""
    asks = any(e.code == services.NEEDS_CONFIRMATION for e in exc.error_dict.get("received_on", []))
    form = PaymentForm(request.POST, ask_backdated=asks)
    form.is_valid()
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
    return form


def _payment_url(payment) -> str:
    return reverse("clients:detail", args=[payment.client_id]) + f"#payment-{payment.pk}"


def _already_recorded(payment) -> str:
    return format_html(
        'Already recorded: payment {} of {} was received on {}; nothing new was recorded. <a href="{}">See it on {}’s statement</a>.',
        payment.reference,
        format_money(payment.amount),
        date_format(payment.received_on, "j M Y"),
        _payment_url(payment),
        payment.client.name,
    )


@require_POST
@permission_required("invoices.resend_invoice", raise_exception=True)
def resend(request, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    try:
        address = services.resend_invoice(invoice=invoice, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invoice {invoice.number} sent to {address}.")
    return redirect_after_post(request, invoice.get_absolute_url())
