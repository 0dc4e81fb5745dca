"""Django admin for clients, the catalogue and contracts. Contract edits are audited."""

from django.contrib import admin

from .models import Client, Contract, ContractChange, ContractLine, Product, ServiceStatusChange
from .services import record_contract_change, record_line_removed, record_line_saved, set_service_status


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "service_status", "psa_id", "rmm_id", "distributor_id", "created_at"]
    list_filter = ["service_status", "created_at"]
    search_fields = ["name", "psa_id", "rmm_id", "distributor_id"]

    def save_model(self, request, obj, form, change):
        # Service status goes through the service so the change is logged with who and when.
        new_status = obj.service_status
        if change and "service_status" in form.changed_data:
            obj.service_status = form.initial["service_status"]
            super().save_model(request, obj, form, change)
            set_service_status(client=obj, to_status=new_status, reason="Changed in Django admin", actor=request.user)
        else:
            super().save_model(request, obj, form, change)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "unit_price", "retired"]
    list_filter = ["category", "retired"]
    search_fields = ["sku", "name"]


class ContractLineInline(admin.TabularInline):
    model = ContractLine
    extra = 0
    autocomplete_fields = ["product"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "client", "start_date", "end_date", "active"]
    list_filter = ["active", "start_date", "end_date"]
    search_fields = ["number", "name", "client__name"]
    autocomplete_fields = ["client"]
    list_select_related = ["client"]
    inlines = [ContractLineInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            record_contract_change(
                contract=obj,
                action=ContractChange.Action.CREATED,
                detail="Created in Django admin",
                actor=request.user,
                source=ContractChange.Source.ADMIN,
            )
        elif form.changed_data:
            record_contract_change(
                contract=obj,
                action=ContractChange.Action.UPDATED,
                detail="Changed " + ", ".join(form.changed_data),
                actor=request.user,
                source=ContractChange.Source.ADMIN,
            )

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for line in formset.deleted_objects:
            record_line_removed(line, actor=request.user, source=ContractChange.Source.ADMIN)
            line.delete()
        for line in instances:
            is_new = line.pk is None
            line.save()
            record_line_saved(line, added=is_new, actor=request.user, source=ContractChange.Source.ADMIN)
        formset.save_m2m()


@admin.register(ContractLine)
class ContractLineAdmin(admin.ModelAdmin):
    list_display = ["contract", "product", "quantity", "unit_price", "external_id"]
    list_filter = ["product__category", "contract__active"]
    search_fields = ["contract__number", "contract__client__name", "product__sku", "product__name", "external_id"]
    autocomplete_fields = ["contract", "product"]
    list_select_related = ["contract", "product"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_line_saved(obj, added=not change, actor=request.user, source=ContractChange.Source.ADMIN)

    def delete_model(self, request, obj):
        record_line_removed(obj, actor=request.user, source=ContractChange.Source.ADMIN)
        super().delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only (audit trails, payments, history): visible, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContractChange)
class ContractChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contract", "action", "detail", "source", "actor"]
    list_filter = ["action", "source", "created_at"]
    search_fields = ["contract__number", "contract__client__name", "detail"]
    list_select_related = ["contract", "actor"]


@admin.register(ServiceStatusChange)
class ServiceStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "client", "from_status", "to_status", "reason", "actor"]
    list_filter = ["to_status", "from_status", "created_at"]
    search_fields = ["client__name", "reason"]
    list_select_related = ["client", "actor"]
