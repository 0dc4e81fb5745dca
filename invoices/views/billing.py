"""Billing runs: the list, a new run, a run's page (its progress, what changed since the month
before, its drafts), issuing, rebuilding and cancelling, and a draft's page. The services decide
and refuse; these pages ask, and show what the services said."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from billingone.background import BackgroundUnavailableError
from billingone.htmx import redirect_after_post, render_page, vary_on_htmx
from clients.dates import org_today

from .. import selectors, services
from ..forms import BillingRunForm
from ..models import BillingRun, BillingRunStatus
from ..services.billing.periods import add_months, month_of

RUNS_PER_PAGE = 25
DRAFTS_PER_PAGE = 50
RUN_PAGE = "invoices/billing/run_detail.html"
PROGRESS, DRAFTS = "run-progress", "run-drafts"  # the fragments of a run's page (their element ids)
REBUILT_MEANWHILE = (
    "The drafts were rebuilt since this confirmation was shown, so nothing was issued: check the figures below again."
)


def _refusal(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _month(run: BillingRun) -> str:
    return date_format(run.period_start, "F Y")


def _show_on_form(form: BillingRunForm, exc: ValidationError) -> None:
    """The service's refusal on the field it is about (its arguments are named otherwise)."""
    fields = {"period_start": "month", "client_ids": "client", "customer_class": "customer_class"}
    errors = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    for field, messages_ in errors:
        form.add_error(fields.get(field), messages_)


@permission_required("invoices.view_billingrun", raise_exception=True)
def run_list(request) -> HttpResponse:
    page = Paginator(selectors.billing_run_list(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "invoices/billing/run_list.html", {"page": page}, fragment="run-table")


@permission_required("invoices.add_billingrun", raise_exception=True)
def run_new(request) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = BillingRunForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                run = services.request_billing_run(**form.run_arguments(), actor=request.user)
            except BackgroundUnavailableError as exc:
                form.add_error(None, str(exc))
                status = 503
            except ValidationError as exc:
                _show_on_form(form, exc)
            else:
                messages.success(
                    request,
                    f"Building the drafts for {_month(run)}: the workers share {run.chunks_total} chunk"
                    f"{'' if run.chunks_total == 1 else 's'} of clients, and this page shows how far they got.",
                )
                return redirect_after_post(request, run.get_absolute_url())
    else:
        form = BillingRunForm(initial={"month": add_months(month_of(org_today()), 1)})
    return render(request, "invoices/billing/run_form.html", {"form": form}, status=status)


@permission_required("invoices.view_billingrun", raise_exception=True)
def run_detail(request, pk: int) -> HttpResponse:
    run = selectors.billing_run(pk)
    if run is None:
        raise Http404("No such billing run.")
    target = request.htmx.target if request.htmx else None
    if target == PROGRESS:  # the progress bar asks every 2 s; once the work is done, the whole page
        if not run.is_working:
            return vary_on_htmx(HttpResponseClientRefresh())
        return render_page(request, RUN_PAGE, {"run": run}, fragment=PROGRESS)
    drafts = Paginator(selectors.run_drafts(run), DRAFTS_PER_PAGE).get_page(request.GET.get("page"))
    if target == DRAFTS:
        return render_page(request, RUN_PAGE, {"run": run, "drafts": drafts}, fragment=DRAFTS)
    context = {"run": run, "drafts": drafts}
    if not run.is_working and run.status != BillingRunStatus.CANCELLED:
        context |= {"changes": selectors.run_changes(run), "past_horizon": selectors.past_horizon(run)}
    return render_page(request, RUN_PAGE, context)


def _built_stamp(run: BillingRun) -> str:
    """What the confirmation carries: a rebuild in another tab changes it, so unseen drafts are never issued."""
    return run.built_at.isoformat() if run.built_at else ""


@permission_required("invoices.issue_billingrun", raise_exception=True)
def run_issue(request, pk: int) -> HttpResponse:
    """Issue all: a confirmation with how many invoices and for how much, then the service."""
    run = get_object_or_404(BillingRun, pk=pk)
    if request.method == "POST":
        if request.POST.get("built") != _built_stamp(run):
            messages.warning(request, REBUILT_MEANWHILE)
            return redirect_after_post(request, reverse("invoices:run_issue", args=[run.pk]))
        try:
            run = services.issue_billing_run(run, actor=request.user, queue=True)
        except (ValidationError, BackgroundUnavailableError) as exc:
            messages.error(request, _refusal(exc))
        else:
            messages.success(
                request,
                f"Issuing the invoices of {_month(run)}: each gets its number, its PDF and its e-mail; "
                "a draft whose contracts changed meanwhile is skipped and marked stale.",
            )
        return redirect_after_post(request, run.get_absolute_url())
    context = {
        "run": run,
        "to_issue": selectors.run_to_issue(run),
        "issued_on": org_today(),
        "built": _built_stamp(run),
    }
    return render(request, "invoices/billing/run_issue.html", context)


@require_POST
@permission_required("invoices.change_billingrun", raise_exception=True)
def run_rebuild(request, pk: int) -> HttpResponse:
    run = get_object_or_404(BillingRun, pk=pk)
    try:
        run = services.rebuild_billing_run(run, actor=request.user, queue=True)
    except (ValidationError, BackgroundUnavailableError) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"Rebuilding the drafts of {_month(run)} from the contracts as they are now.")
    return redirect_after_post(request, run.get_absolute_url())


@require_POST
@permission_required("invoices.change_billingrun", raise_exception=True)
def run_cancel(request, pk: int) -> HttpResponse:
    run = get_object_or_404(BillingRun, pk=pk)
    try:
        run = services.cancel_billing_run(run, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"The billing run for {_month(run)} is cancelled; its drafts are discarded.")
    return redirect_after_post(request, run.get_absolute_url())


@permission_required("invoices.view_billingrun", raise_exception=True)
def draft_detail(request, pk: int) -> HttpResponse:
    draft = selectors.draft_page(pk)
    if draft is None:
        raise Http404("No such draft invoice.")
    return render(request, "invoices/billing/draft_detail.html", {"draft": draft})
