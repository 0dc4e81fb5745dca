"""The client picker: a search box that suggests clients as you type (htmx asks
``clients:pick``) and a hidden input holding the chosen client's id. It serves 100,000 clients
where a ``<select>`` of all of them would not."""

from django import forms
from django.urls import reverse

from . import selectors


class ClientPicker(forms.Widget):
    template_name = "clients/widgets/client_picker.html"

    def __init__(self, attrs=None, *, placeholder="Type a client's name"):
        super().__init__(attrs)
        self.placeholder = placeholder

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            {
                "client_name": selectors.client_name(value),
                "search_url": reverse("clients:pick"),
                "placeholder": self.placeholder,
            }
        )
        return context
