"""Forms for the invoice console."""

from django import forms

from clients.models import Client
from clients.widgets import ClientPicker

from .models import PaymentMethod


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
