"""Forms for the invoice console."""

from django import forms

from clients.models import Client
from clients.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

from .models import PaymentMethod


class PaymentForm(forms.Form):
    """What a payment needs, parsed; its rules (and their messages) are the service's
    (``services.validate_payment``), and the view shows them on these fields."""

    client = forms.ModelChoiceField(
        queryset=Client.objects.only("pk", "name").order_by("name"),
        error_messages={"invalid_choice": "Unknown client: choose one from the list."},
    )
    amount = forms.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    received_on = forms.DateField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reference = forms.CharField(max_length=100, help_text="The bank or card reference; unique per client.")
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
