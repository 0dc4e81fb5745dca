"""Django admin for clients, the catalogue and contracts. Contract edits are audited."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect

from .dates import org_today
from .models import Client, Contract, ContractChange, ContractLine, Product, ServiceStatusChange
from .services import (
    add_contract_line,
    billed_line_ids,
    change_contract_line,
    contract_saved_in_admin,
    record_contract_change,
    remove_contract_line,
    set_service_status,
)


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


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent and written by services only: never added or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ContractLineInline(ReadOnlyInline):
    """The contract's dated line segments, read-only: a line is added, changed from a date, ended
    or removed on its own admin page, through the dated services."""

    model = ContractLine
    fields = ["product", "quantity", "unit_price", "start_date", "end_date", "external_id"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "client", "start_date", "end_date", "active"]
    list_filter = ["active", "start_date", "end_date"]
    search_fields = ["number", "name", "client__name"]
    autocomplete_fields = ["client"]
    list_select_related = ["client"]
    inlines = [ContractLineInline]

    def save_model(self, request, obj, form, change):
        before = Contract.objects.filter(pk=obj.pk).values("active", "end_date").first() if change else None
        super().save_model(request, obj, form, change)
        if not change:
            record_contract_change(
                contract=obj,
                action=ContractChange.Action.CREATED,
                detail="Created in Django admin",
                actor=request.user,
                source=ContractChange.Source.ADMIN,
            )
            return
        if form.changed_data:
            record_contract_change(
                contract=obj,
                action=ContractChange.Action.UPDATED,
                detail="Changed " + ", ".join(form.changed_data),
                actor=request.user,
                source=ContractChange.Source.ADMIN,
            )
        contract_saved_in_admin(
            obj, was_active=before["active"], old_end=before["end_date"], on=org_today(), actor=request.user
        )


class ContractLineAddForm(forms.ModelForm):
    class Meta:
        model = ContractLine
        fields = ["contract", "product", "quantity", "unit_price", "start_date", "external_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].required = False
        self.fields["start_date"].help_text = "First day in force; empty = the contract's start."


class ContractLineChangeForm(forms.ModelForm):
    effective_on = forms.DateField(
        label="Change takes effect on",
        help_text="The line as it was stays in force until the day before; on the segment's own start "
        "date the segment is corrected in place.",
    )

    class Meta:
        model = ContractLine
        fields = ["product", "quantity", "unit_price", "external_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_on"].initial = org_today


@admin.register(ContractLine)
class ContractLineAdmin(admin.ModelAdmin):
    """Dated edits only: an add, a change from a date, or the removal of a never-billed mistake,
    each through ``clients.services`` (which refuses bad dates and records who and when)."""

    list_display = ["contract", "product", "quantity", "unit_price", "start_date", "end_date", "external_id"]
    list_filter = ["product__category", "contract__active", "start_date", "end_date"]
    search_fields = ["contract__number", "contract__client__name", "product__sku", "product__name", "external_id"]
    autocomplete_fields = ["contract", "product"]
    list_select_related = ["contract", "product"]
    actions = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ContractLineChangeForm if obj else ContractLineAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ContractLineAddForm.Meta.fields
        return ["contract", *ContractLineChangeForm.Meta.fields, "effective_on", "start_date", "end_date", "replaces"]

    def get_readonly_fields(self, request, obj=None):
        return ["contract", "start_date", "end_date", "replaces"] if obj else []

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not billed_line_ids([obj.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A refusal by the dated services (a date outside the line's dates, say) rolls the whole
        # save back and comes back to the form as a message.
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        source = ContractChange.Source.ADMIN
        if not change:
            saved = add_contract_line(
                contract=obj.contract,
                product=obj.product,
                quantity=obj.quantity,
                unit_price=obj.unit_price,
                start_date=obj.start_date,
                external_id=obj.external_id,
                actor=request.user,
                source=source,
            )
            obj.pk = saved.pk
            return
        if "external_id" in form.changed_data:
            ContractLine.objects.filter(pk=obj.pk).update(external_id=obj.external_id)
        saved = change_contract_line(
            ContractLine.objects.get(pk=obj.pk),
            quantity=obj.quantity,
            unit_price=obj.unit_price,
            product=obj.product,
            effective_on=form.cleaned_data["effective_on"],
            actor=request.user,
            source=source,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        remove_contract_line(obj, actor=request.user, source=ContractChange.Source.ADMIN)


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
