"""FilterSet for the invoice search table."""

import django_filters
from django import forms
from django.db.models import Q

from clients.filters import SortFilter
from clients.models import Client

from .models import Invoice, InvoiceStatus


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):  # noqa: A002 - Django's argument name
        super().__init__(attrs, format)


class InvoiceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices, empty_label="Any status")
    client = django_filters.ModelChoiceFilter(queryset=Client.objects.only("pk", "name"), empty_label="Any client")
    issued_after = django_filters.DateFilter(
        field_name="issued_on", lookup_expr="gte", label="Issued from", widget=DateInput
    )
    issued_before = django_filters.DateFilter(
        field_name="issued_on", lookup_expr="lte", label="Issued to", widget=DateInput
    )
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", label="Due from", widget=DateInput)
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", label="Due to", widget=DateInput)
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Overdue only", widget=forms.CheckboxInput)
    sort = SortFilter(
        [
            ("-issued", "Newest first", ("-issued_on", "-number")),
            ("issued", "Oldest first", ("issued_on", "number")),
            ("due", "Due date", ("due_on", "number")),
            ("-due", "Due date, latest first", ("-due_on", "-number")),
            ("-total", "Largest total", ("-total", "-number")),
            ("client", "Client", ("client__name", "-issued_on", "-number")),
        ]
    )

    class Meta:
        model = Invoice
        fields = ["q", "status", "client", "overdue", "sort"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(client__name__icontains=value))

    def filter_overdue(self, queryset, name, value):
        return queryset.filter(status=InvoiceStatus.OVERDUE) if value else queryset
