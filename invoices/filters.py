"""FilterSet for the invoice search table."""

import django_filters
from django import forms
from django.db.models import Q

from clients.models import Client

from .models import Invoice, InvoiceStatus

SORTS = {
    "-issued": ("-issued_on", "-number"),
    "issued": ("issued_on", "number"),
    "due": ("due_on", "number"),
    "-due": ("-due_on", "-number"),
    "-total": ("-total", "-number"),
    "client": ("client__name", "-issued_on", "-number"),
}


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
    sort = django_filters.ChoiceFilter(
        choices=[
            ("-issued", "Newest first"),
            ("issued", "Oldest first"),
            ("due", "Due date"),
            ("-due", "Due date, latest first"),
            ("-total", "Largest total"),
            ("client", "Client"),
        ],
        method="sort_by",
        label="Sort",
        empty_label="Newest first",
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

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["-issued"]))
