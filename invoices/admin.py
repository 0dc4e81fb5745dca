"""Django admin for invoices. Money and statuses are written by the services only.

Customer classes, collection steps and billing profiles are configuration (Admin
edits them); invoices, payments, allocations, status history and collections are
read-only here: they change through ``invoices.services`` so every rule and audit
entry applies.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from clients.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Allocation,
    BillingProfile,
    BillingRun,
    BillingRunChunk,
    CollectionAction,
    CollectionEpisode,
    CollectionStep,
    CustomerClass,
    DraftInvoice,
    DraftLine,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoiceMessage,
    InvoiceSequence,
    InvoiceStatusChange,
    Payment,
)
from .services import assign_customer_class, cancel_billing_run, rebuild_billing_run, resend_invoice


class CollectionStepInline(admin.TabularInline):
    model = CollectionStep
    extra = 1


@admin.register(CustomerClass)
class CustomerClassAdmin(admin.ModelAdmin):
    list_display = ["name", "payment_terms_days", "collection_threshold"]
    search_fields = ["name"]
    inlines = [CollectionStepInline]


@admin.register(CollectionStep)
class CollectionStepAdmin(admin.ModelAdmin):
    list_display = ["customer_class", "days_overdue", "action"]
    list_filter = ["customer_class", "action"]
    list_select_related = ["customer_class"]


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ["client", "customer_class", "billing_email"]
    list_filter = ["customer_class"]
    search_fields = ["client__name", "billing_email"]
    autocomplete_fields = ["client"]
    list_select_related = ["client", "customer_class"]

    def save_model(self, request, obj, form, change):
        profile = assign_customer_class(obj.client, obj.customer_class, billing_email=obj.billing_email)
        obj.pk = profile.pk


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    readonly_fields = ["description", "quantity", "unit_price", "amount"]


class AllocationInline(ReadOnlyInline):
    model = Allocation
    fk_name = "invoice"
    readonly_fields = ["payment", "credit_invoice", "amount", "created_at"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "client", "issued_on", "due_on", "total", "amount_due", "amount_paid", "status"]
    list_filter = ["status", "issued_on", "below_threshold"]
    search_fields = ["number", "client__name"]
    list_select_related = ["client"]
    date_hierarchy = "issued_on"
    inlines = [InvoiceLineInline, AllocationInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "client", "amount", "unallocated", "received_on", "method", "recorded_by"]
    list_filter = ["method", "received_on"]
    search_fields = ["reference", "client__name"]
    list_select_related = ["client", "recorded_by"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "payment", "credit_invoice", "amount", "created_at"]
    search_fields = ["invoice__number", "payment__reference"]
    list_select_related = ["invoice", "payment", "credit_invoice"]


@admin.register(InvoiceStatusChange)
class InvoiceStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "from_status", "to_status", "as_of", "source", "created_at"]
    list_filter = ["to_status", "source"]
    search_fields = ["invoice__number"]
    list_select_related = ["invoice"]


@admin.register(CollectionEpisode)
class CollectionEpisodeAdmin(ReadOnlyAdmin):
    list_display = ["client", "opened_on", "closed_on"]
    list_filter = ["closed_on"]
    search_fields = ["client__name"]
    list_select_related = ["client"]


@admin.register(CollectionAction)
class CollectionActionAdmin(ReadOnlyAdmin):
    list_display = ["episode", "action", "invoice", "fired_on", "detail"]
    list_filter = ["action", "fired_on"]
    search_fields = ["episode__client__name", "detail"]
    list_select_related = ["episode__client", "invoice"]


@admin.register(InvoiceMessage)
class InvoiceMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "invoice", "kind", "to_email", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["invoice__number", "invoice__client__name", "to_email"]
    list_select_related = ["invoice"]
    date_hierarchy = "created_at"
    actions = ["resend"]

    @admin.action(
        description="Resend the invoice of each selected e-mail now (a new e-mail each)", permissions=["resend"]
    )
    def resend(self, request, queryset):
        sent, refused = 0, []
        for invoice in Invoice.objects.filter(pk__in=queryset.values("invoice_id")).order_by("pk"):
            try:
                resend_invoice(invoice, actor=request.user)
            except ValidationError as exc:
                refused.append(f"{invoice.number}: {' '.join(exc.messages)}")
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} invoice(s) sent again.", messages.SUCCESS)
        for problem in refused:
            self.message_user(request, problem, messages.ERROR)

    def has_resend_permission(self, request):
        return request.user.has_perm("invoices.resend_invoice")


@admin.register(InvoiceDocument)
class InvoiceDocumentAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "file", "size", "created_at"]
    search_fields = ["invoice__number", "invoice__client__name"]
    list_filter = ["created_at"]
    list_select_related = ["invoice"]
    date_hierarchy = "created_at"


# --- Billing runs: built, rebuilt, issued and cancelled by the services (the console or these actions) ---


class BillingRunChunkInline(ReadOnlyInline):
    model = BillingRunChunk
    fields = ["step", "number", "first_client_id", "last_client_id", "status", "done_at", "error"]
    readonly_fields = fields


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = ["period_start", "scope", "status", "drafts_count", "drafts_total", "issued_count", "created_by"]
    list_filter = ["status", "scope", "period_start"]
    search_fields = ["id", "created_by__username", "error"]
    list_select_related = ["created_by"]
    date_hierarchy = "period_start"
    inlines = [BillingRunChunkInline]
    actions = ["rebuild", "cancel"]

    def _each(self, request, queryset, service, done: str):
        changed = 0
        for run in queryset.order_by("pk"):
            try:
                service(run, actor=request.user)
                changed += 1
            except ValidationError as exc:
                self.message_user(request, f"Run #{run.pk}: {' '.join(exc.messages)}", messages.ERROR)
        if changed:
            self.message_user(request, f"{changed} run(s) {done}.", messages.SUCCESS)

    @admin.action(description="Rebuild the drafts of the selected runs", permissions=["rebuild"])
    def rebuild(self, request, queryset):
        self._each(request, queryset, rebuild_billing_run, "rebuilt")

    @admin.action(description="Cancel the selected runs (discards their drafts)", permissions=["rebuild"])
    def cancel(self, request, queryset):
        self._each(request, queryset, cancel_billing_run, "cancelled")

    def has_rebuild_permission(self, request):
        return request.user.has_perm("invoices.change_billingrun")


class DraftLineInline(ReadOnlyInline):
    model = DraftLine
    fields = ["description", "quantity", "unit_price", "amount", "period", "adjustment"]
    readonly_fields = fields


@admin.register(DraftInvoice)
class DraftInvoiceAdmin(ReadOnlyAdmin):
    list_display = ["run", "client", "period_start", "total", "stale", "no_email", "invoice"]
    list_filter = ["stale", "no_email", "period_start"]
    search_fields = ["client__name", "invoice__number"]
    list_select_related = ["run", "client", "invoice"]
    inlines = [DraftLineInline]


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(admin.ModelAdmin):
    """The prefix and width may change (numbers already issued keep theirs); the counter only moves
    forward, by issuing."""

    list_display = ["key", "prefix", "width", "next_value"]
    search_fields = ["key", "prefix"]
    list_filter = ["width"]
    fields = ["key", "prefix", "width", "next_value"]
    readonly_fields = ["key", "next_value"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
