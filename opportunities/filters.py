"""The queue's FilterSet: tab, search, severity and one client (``?client=ID`` or ``?clientId=ID``)."""

import django_filters
from django import forms
from django.db.models import Q

from clients.models import Client
from clients.widgets import ClientPicker

from .models import Opportunity, Severity
from .selectors import TABS


class QueueFilterForm(forms.Form):
    """Checks the client id (either spelling) exists; keeps the client for the chip."""

    client_obj = None

    def clean(self):
        data = super().clean()
        ids = {data.get(name) for name in ("client", "clientId")} - {None}
        if len(ids) > 1:
            self.add_error("client", "Two different clients were given; choose one.")
            return data
        if ids:
            client_id = ids.pop()
            self.client_obj = Client.objects.filter(pk=client_id).only("pk", "name").first()
            if self.client_obj is None:
                self.add_error("client", f"There is no client with id {client_id}.")
        return data


class ClientIdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("field_name", "client_id")
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("error_messages", {"invalid": "The client id must be a whole number, e.g. ?client=42."})
        super().__init__(*args, **kwargs)


class QueueFilter(django_filters.FilterSet):
    tab = django_filters.ChoiceFilter(choices=TABS, method="noop", label="Tab", empty_label=None)
    q = django_filters.CharFilter(method="search", label="Search")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label="Severity", empty_label="All severities")
    client = ClientIdFilter(label="Client", widget=ClientPicker(placeholder="Any client"))
    clientId = ClientIdFilter(label="Client id")  # noqa: N815 - the deep-link spelling

    class Meta:
        model = Opportunity
        fields = ["tab", "q", "severity", "client", "clientId"]
        form = QueueFilterForm

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and data.get("clientId") and not data.get("client"):
            data = data.copy()  # a deep link's spelling becomes the picker's
            data["client"] = data["clientId"]
        super().__init__(data, *args, **kwargs)

    def noop(self, queryset, name, value):
        return queryset  # the tab is applied by the selectors (counts need every tab)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(client_name__icontains=value) | Q(description__icontains=value))

    @property
    def current_tab(self) -> str:
        return (self.form.cleaned_data.get("tab") if self.form.is_valid() else None) or "all"

    @property
    def client_obj(self):
        return self.form.client_obj
