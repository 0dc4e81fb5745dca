"""Forms of missed billing: mapping rules, detection thresholds, CSV uploads, the apply dates."""

from django import forms
from django.conf import settings

from clients.models import Client, Product

from .models import DetectionSettings, ImportSource, MappingRule, RuleKind
from .services.actions import latest_effective_date
from .services.imports import ImportRejectedError, check_effective_date, default_effective_date


class MappingRuleForm(forms.ModelForm):
    class Meta:
        model = MappingRule
        fields = [
            "kind",
            "client",
            "priority",
            "device_type",
            "hostname_pattern",
            "vendor_sku",
            "from_product",
            "product",
            "exclude",
            "not_seen_days",
            "active",
            "note",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.order_by("name")
        self.fields["client"].empty_label = "All clients"
        self.fields["product"].queryset = Product.objects.order_by("name")
        self.fields["from_product"].queryset = Product.objects.order_by("-retired", "name")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        exclude = data.get("exclude")
        if kind == RuleKind.DEVICE:
            if not (data.get("device_type") or data.get("hostname_pattern") or data.get("not_seen_days") is not None):
                raise forms.ValidationError("A device rule needs a device type, a hostname pattern or a not-seen age.")
            if data.get("vendor_sku") or data.get("from_product"):
                raise forms.ValidationError("A device rule matches devices only: leave SKU and retired product empty.")
        elif kind == RuleKind.SUBSCRIPTION:
            if not data.get("vendor_sku"):
                self.add_error("vendor_sku", "A subscription rule needs the distributor SKU.")
            if data.get("device_type") or data.get("hostname_pattern") or data.get("from_product"):
                raise forms.ValidationError("A subscription rule matches a SKU only.")
        elif kind == RuleKind.MIGRATION:
            if not data.get("from_product"):
                self.add_error("from_product", "Choose the retired product.")
            if exclude:
                self.add_error("exclude", "A migration rule cannot be an exclusion.")
            if data.get("from_product") and data.get("from_product") == data.get("product"):
                self.add_error("product", "The replacement must be another product.")
        if not exclude and not data.get("product"):
            self.add_error("product", "Choose the product matched items bill as (or make it an exclusion).")
        if exclude and data.get("product"):
            self.add_error("product", "An exclusion bills nothing: leave the product empty.")
        if data.get("vendor_sku"):
            data["vendor_sku"] = data["vendor_sku"].strip().upper()
        return data


def effective_date_field(*, label: str, testid: str, help_id: str = "", required: bool = True) -> forms.DateField:
    """The date a change takes effect from, picked with the browser's date picker (YYYY-MM-DD): the
    one definition the single apply, the bulk apply and the contract-lines upload share. ``help_id``:
    the element that explains the date on the page (a field with a help text gets its own)."""
    attrs = {"type": "date", "data-testid": testid} | ({"aria-describedby": help_id} if help_id else {})
    return forms.DateField(
        label=label,
        required=required,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs=attrs, format="%Y-%m-%d"),
        error_messages={
            "required": "Give the date the change takes effect from.",
            "invalid": "That is not a date: use the date picker (YYYY-MM-DD).",
        },
    )


class EffectiveDateForm(forms.Form):
    """The date an apply changes the contract from (checked against the line's and the contract's
    dates by the apply service, which says why a date does not fit)."""

    effective_on = effective_date_field(label="Takes effect from", help_id="effective-help", testid="effective-on")

    def __init__(self, *args, latest=None, **kwargs):
        super().__init__(*args, **kwargs)
        if latest is not None:
            self.fields["effective_on"].widget.attrs["max"] = latest.isoformat()


class BulkApplyForm(forms.Form):
    """The bulk apply's one optional date: empty, each item takes effect from its own default; a
    date, every item from that date (an item it does not fit fails alone, with the reason)."""

    effective_on = effective_date_field(
        label="Takes effect on", help_id="bulk-effective", testid="bulk-effective-on", required=False
    )

    def __init__(self, *args, latest=None, **kwargs):
        super().__init__(*args, **kwargs)
        if latest is not None:
            self.fields["effective_on"].widget.attrs["max"] = latest.isoformat()


class ThresholdsForm(forms.ModelForm):
    """The order of the two thresholds is the model's check constraint (validated by the form)."""

    class Meta:
        model = DetectionSettings
        fields = ["high_threshold", "medium_threshold"]


class ImportUploadForm(forms.Form):
    source = forms.ChoiceField(choices=ImportSource.choices, label="The file contains")
    file = forms.FileField(label="CSV file")
    effective_on = effective_date_field(label="Takes effect on", testid="import-effective-on", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["effective_on"]
        field.initial = default_effective_date()
        field.widget.attrs["max"] = latest_effective_date().isoformat()
        field.widget.attrs["data-shown-with"] = f"id_source={ImportSource.CONTRACT_LINES}"  # static/js/app.js
        field.help_text = (
            "Contract lines only: one date for the whole file. A line gone from the file ends the day "
            "before; a changed line changes from that date; a new line starts then (or when its "
            "contract starts). Empty: the first day of this month."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB."
            )
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload

    def clean(self):
        data = super().clean()
        if data.get("source") != ImportSource.CONTRACT_LINES:
            data["effective_on"] = None  # only contract lines take effect from a date: the field is moot
            self._errors.pop("effective_on", None)
        elif data.get("effective_on") is not None:
            try:
                check_effective_date(data["effective_on"])
            except ImportRejectedError as exc:
                self.add_error("effective_on", str(exc))
        return data
