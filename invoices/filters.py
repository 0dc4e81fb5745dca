"""FilterSet for the invoice search table."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import F, Q

from clients.filters import SortFilter
from clients.models import Client
from clients.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from clients.widgets import ClientPicker

from .models import Invoice, InvoiceStatus

MONEY_LIMIT = 10 ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - 1


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):  # noqa: A002 - Django's argument name
        super().__init__(attrs, format)


class InvoiceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices, empty_label="Any status")
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.only("pk", "name"), widget=ClientPicker(placeholder="Any client")
    )
    issued_after = django_filters.DateFilter(
        field_name="issued_on", lookup_expr="gte", label="Issued from", widget=DateInput
    )
    issued_before = django_filters.DateFilter(
        field_name="issued_on", lookup_expr="lte", label="Issued to", widget=DateInput
    )
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", label="Due from", widget=DateInput)
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", label="Due to", widget=DateInput)
    balance = django_filters.ChoiceFilter(
        choices=[("owing", "Something to pay"), ("settled", "Nothing to pay")],
        method="filter_balance",
        label="Outstanding",
        empty_label="Any balance",
    )
    outstanding_min = django_filters.NumberFilter(
        field_name="outstanding_now",
        lookup_expr="gte",
        label="Outstanding at least",
        min_value=0,
        max_value=MONEY_LIMIT,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        # Plain digits only: a Decimal written back as text keeps an exponent ("1E+9").
        validators=[RegexValidator(r"^[0-9]+(\.[0-9]{1,2})?$", "Enter a plain amount such as 250 or 250.00.")],
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Overdue only", widget=forms.CheckboxInput)
    sort = SortFilter(
        [
            ("-issued", "Newest first", ("-issued_on", "-sequence", "-id")),
            ("issued", "Oldest first", ("issued_on", "sequence", "id")),
            ("due", "Due date", ("due_on", "sequence", "id")),
            ("-due", "Due date, latest first", ("-due_on", "-sequence", "-id")),
            ("-total", "Largest total", ("-total", "-sequence", "-id")),
            ("-outstanding", "Most outstanding", ("-outstanding_now", "-sequence", "-id")),
            ("outstanding", "Least outstanding", ("outstanding_now", "sequence", "id")),
            ("client", "Client", ("client__name", "-issued_on", "-sequence", "-id")),
        ]
    )

    class Meta:
        model = Invoice
        fields = ["q", "status", "client", "balance", "outstanding_min", "overdue", "sort"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(client__name__icontains=value))

    def filter_balance(self, queryset, name, value):
        owing = Q(total__gt=F("amount_paid"))
        return queryset.filter(owing if value == "owing" else ~owing)

    def filter_overdue(self, queryset, name, value):
        return queryset.filter(status=InvoiceStatus.OVERDUE) if value else queryset
