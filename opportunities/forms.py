"""Forms of missed billing: mapping rules, detection thresholds, CSV uploads, the apply date."""

from django import forms
from django.conf import settings

from clients.models import Client, Product

from .models import DetectionSettings, ImportSource, MappingRule, RuleKind


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


class EffectiveDateForm(forms.Form):
    """The date an apply changes the contract from (checked against the line's and the contract's
    dates by the apply service, which says why a date does not fit)."""

    effective_on = forms.DateField(
        label="Takes effect from",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(
            attrs={"type": "date", "aria-describedby": "effective-help", "data-testid": "effective-on"},
            format="%Y-%m-%d",
        ),
        error_messages={
            "required": "Give the date the change takes effect from.",
            "invalid": "That is not a date: use the date picker (YYYY-MM-DD).",
        },
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
