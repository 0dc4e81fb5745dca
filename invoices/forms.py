"""Forms for the invoice console."""

import datetime as dt
import re

from django import forms

from clients.models import Client
from clients.widgets import ClientPicker

from .models import BillingRunScope, CustomerClass, PaymentMethod


class PaymentForm(forms.Form):
    """What a payment needs, parsed; its rules (and their messages) are the service's
    (``services.validate_payment``), and the view shows them on these fields."""

    client = forms.ModelChoiceField(
        queryset=Client.objects.only("pk", "name"),
        widget=ClientPicker(),
        error_messages={
            "invalid_choice": "Unknown client: type part of the name and choose one of the suggestions.",
            "required": "Choose the client: type part of the name and pick a suggestion.",
        },
    )
    amount = forms.CharField(max_length=32, help_text="e.g. 125.50")  # read by the service: plain digits only
    received_on = forms.DateField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reference = forms.CharField(max_length=100, help_text="The bank or card reference; unique per client.")
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    backdated_confirmed = forms.BooleanField(
        required=False, label="Yes, it was received on that date", widget=forms.CheckboxInput
    )

    def __init__(self, *args, ask_backdated=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not ask_backdated:  # asked only once the service has said the date is far back
            self.fields["backdated_confirmed"].widget = forms.HiddenInput()


class MonthInput(forms.TextInput):
    """The browser's month picker (``<input type="month">``, value ``YYYY-MM``)."""

    input_type = "month"

    def format_value(self, value):
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else super().format_value(value)


class MonthField(forms.Field):
    """A calendar month, as its first day; ``YYYY-MM`` (what a month input sends)."""

    widget = MonthInput
    default_error_messages = {
        "invalid": "Enter the month as year and month, e.g. 2027-01.",
        "required": "Choose the month to bill.",
        "out_of_range": "Choose a month between 2000 and 2099.",
    }

    def to_python(self, value):
        if isinstance(value, dt.date) or value in self.empty_values:
            return value or None
        found = re.fullmatch(r"(\d{4})-(\d{2})", str(value).strip())
        if not found or not 1 <= int(found[2]) <= 12:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if not 2000 <= int(found[1]) <= 2099:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return dt.date(int(found[1]), int(found[2]), 1)


class BillingRunForm(forms.Form):
    """A new billing run: the month, and whom it bills (everyone, one customer class, one client).
    The service decides the rest (``services.request_billing_run``)."""

    SCOPES = [
        (BillingRunScope.ALL, "All clients"),
        (BillingRunScope.CUSTOMER_CLASS, "One customer class"),
        (BillingRunScope.CLIENTS, "One client"),
    ]

    month = MonthField(help_text="The month billed: in advance its own, in arrears the month before.")
    scope = forms.ChoiceField(
        choices=SCOPES,
        initial=BillingRunScope.ALL,
        widget=forms.RadioSelect,
        label="Bill",
        error_messages={"invalid_choice": "Choose whom to bill: all clients, one customer class or one client."},
    )
    customer_class = forms.ModelChoiceField(
        queryset=CustomerClass.objects.only("pk", "name"),
        required=False,
        empty_label="Choose a class",
        error_messages={"invalid_choice": "Unknown customer class: choose one from the list."},
    )
    client = forms.ModelChoiceField(
        queryset=Client.objects.only("pk", "name"),
        required=False,
        widget=ClientPicker(),
        error_messages={"invalid_choice": "Unknown client: type part of the name and choose one of the suggestions."},
    )

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == BillingRunScope.CUSTOMER_CLASS and not data.get("customer_class"):
            self.add_error("customer_class", "Choose the customer class to bill.")
        if scope == BillingRunScope.CLIENTS and not data.get("client"):
            self.add_error("client", "Choose the client to bill: type part of the name and pick a suggestion.")
        return data

    def run_arguments(self) -> dict:
        """The service's arguments for what was chosen (only the chosen scope's field counts)."""
        data, scope = self.cleaned_data, self.cleaned_data["scope"]
        return {
            "period_start": data["month"],
            "customer_class": data["customer_class"] if scope == BillingRunScope.CUSTOMER_CLASS else None,
            "client_ids": [data["client"].pk] if scope == BillingRunScope.CLIENTS else None,
        }
