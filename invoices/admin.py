"""Django admin for invoices. Money and statuses are written by the services only.

Customer classes, collection steps and billing profiles are configuration (Admin
edits them); invoices, payments, allocations, status history and collections are
read-only here: they change through ``invoices.services`` so every rule and audit
entry applies.
"""

from django.contrib import admin

from clients.admin import ReadOnlyAdmin

from .models import (
    Allocation,
    BillingProfile,
    CollectionAction,
    CollectionEpisode,
    CollectionStep,
    CustomerClass,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
    Payment,
)
from .services import assign_customer_class


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


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "quantity", "unit_price", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


class AllocationInline(admin.TabularInline):
    model = Allocation
    fk_name = "invoice"
    extra = 0
    can_delete = False
    readonly_fields = ["payment", "credit_invoice", "amount", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


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
