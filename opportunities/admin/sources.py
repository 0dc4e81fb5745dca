"""Django admin for detection: sources, mapping rules, thresholds, runs and imports.

What detection sets (mappings, run figures) and what imports record are read-only here:
they change through their services.
"""

from django.contrib import admin

from ..models import DetectionRun, DetectionSettings, Device, MappingRule, SourceImport, Subscription


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("hostname", "device_id", "client", "device_type", "os", "last_seen", "mapped_product", "excluded")
    list_filter = ("device_type", "excluded", ("mapped_product", admin.RelatedOnlyFieldListFilter))
    search_fields = ("hostname", "device_id", "client__name", "os")
    list_select_related = ("client", "mapped_product")
    readonly_fields = ("mapped_product", "mapping_rule", "excluded")
    raw_id_fields = ("client",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # The id is the key: editing it would save a second device, not rename this one.
        return (*self.readonly_fields, "device_id") if obj else self.readonly_fields


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("product_name", "subscription_id", "client", "vendor_sku", "quantity", "status", "mapped_product")
    list_filter = ("status", ("mapped_product", admin.RelatedOnlyFieldListFilter))
    search_fields = ("subscription_id", "vendor_sku", "product_name", "client__name")
    list_select_related = ("client", "mapped_product")
    readonly_fields = ("mapped_product", "mapping_rule")
    raw_id_fields = ("client",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # As for devices: the id is the key.
        return (*self.readonly_fields, "subscription_id") if obj else self.readonly_fields


@admin.register(MappingRule)
class MappingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "client",
        "priority",
        "device_type",
        "hostname_pattern",
        "vendor_sku",
        "from_product",
        "product",
        "exclude",
        "active",
    )
    list_filter = ("kind", "active", "exclude", "device_type")
    search_fields = ("hostname_pattern", "vendor_sku", "note", "product__name", "from_product__name", "client__name")
    list_select_related = ("client", "product", "from_product")
    readonly_fields = ("created_by", "created_at", "updated_at")
    raw_id_fields = ("client",)

    def save_model(self, request, obj, form, change):
        from ..services.rules import save_rule

        save_rule(rule=obj, actor=request.user)


@admin.register(DetectionSettings)
class DetectionSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "high_threshold", "medium_threshold", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")
    search_fields = ()

    def has_add_permission(self, request):
        return not DetectionSettings.objects.exists() and super().has_add_permission(request)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(DetectionRun)
class DetectionRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "trigger",
        "status",
        "started_at",
        "duration_ms",
        "clients_examined",
        "devices_examined",
        "created",
        "updated",
        "resolved",
        "unchanged",
    )
    list_filter = ("status", "trigger")
    search_fields = ("error",)
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in DetectionRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SourceImport)
class SourceImportAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "source",
        "status",
        "uploaded_by",
        "uploaded_at",
        "effective_on",
        "rows_total",
        "count_new",
        "count_changed",
        "count_gone",
        "error_count",
    )
    list_filter = ("source", "status")
    search_fields = ("file_name", "uploaded_by__username", "message")
    list_select_related = ("uploaded_by",)
    date_hierarchy = "uploaded_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SourceImport._meta.fields]

    def has_add_permission(self, request):
        return False
