"""Admin for the queue: opportunities and their history read-only (state changes only
through the services), bulk applies with their items and the selections for the next ones,
notifications."""

from django.contrib import admin

from clients.admin import ReadOnlyAdmin, ReadOnlyInline

from ..models import QUEUE_ORDER, BulkApply, BulkApplyItem, Notification, Opportunity, OpportunityEvent, SelectedItem


class OpportunityEventInline(ReadOnlyInline):
    model = OpportunityEvent
    fields = ["created_at", "action", "from_state", "to_state", "actor", "note"]
    readonly_fields = fields


@admin.register(Opportunity)
class OpportunityAdmin(ReadOnlyAdmin):
    list_display = ["id", "client_name", "kind", "severity", "state", "monthly_impact", "ready_to_apply", "updated_at"]
    list_filter = ["state", "severity", "kind", "ready_to_apply", "plan_action"]
    search_fields = ["client_name", "description", "source_key"]
    list_select_related = False
    ordering = list(QUEUE_ORDER)
    inlines = [OpportunityEventInline]
    show_full_result_count = False


@admin.register(OpportunityEvent)
class OpportunityEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "opportunity_id", "action", "from_state", "to_state", "actor", "note"]
    list_filter = ["action"]
    search_fields = ["note", "opportunity__client_name", "opportunity__description"]
    list_select_related = ["actor"]
    show_full_result_count = False


class BulkApplyItemInline(ReadOnlyInline):
    model = BulkApplyItem
    fields = ["opportunity", "state", "message", "finished_at"]
    readonly_fields = fields
    raw_id_fields = ["opportunity"]


@admin.register(BulkApply)
class BulkApplyAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "plan_action", "product", "effective_on", "created_by", "created_at", "finished_at"]
    list_filter = ["status", "plan_action"]
    search_fields = ["idempotency_key", "created_by__username"]
    list_select_related = ["product", "created_by"]
    inlines = [BulkApplyItemInline]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "title", "read_at", "emailed_at"]
    list_filter = ["read_at", "emailed_at"]
    search_fields = ["title", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "opportunity"]


@admin.register(SelectedItem)
class SelectedItemAdmin(ReadOnlyAdmin):
    """What each person has ticked for their next bulk apply (changed only from the queue)."""

    list_display = ["user", "opportunity", "added_at"]
    list_filter = ["added_at"]
    search_fields = ["user__username", "opportunity__client_name", "opportunity__description"]
    list_select_related = ["user", "opportunity"]
    show_full_result_count = False
