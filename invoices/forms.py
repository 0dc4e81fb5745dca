"""Forms for the invoice console."""

from django import forms

from clients.dates import org_today
from clients.models import Client
from clients.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

from .models import PaymentMethod


class PaymentForm(forms.Form):
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

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("A payment must be more than zero.")
        return amount

    def clean_received_on(self):
        received_on = self.cleaned_data["received_on"]
        if received_on > org_today():
            raise forms.ValidationError("A payment cannot be received in the future.")
        return received_on

    def clean(self):
        from .models import Payment

        data = super().clean()
        client, reference = data.get("client"), (data.get("reference") or "").strip()
        if client and reference and Payment.objects.filter(client=client, reference=reference).exists():
            self.add_error("reference", "This client already has a payment with this reference: nothing recorded.")
        return data
