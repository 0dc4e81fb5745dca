"""FilterSets for the clients pages."""

import django_filters
from django.db.models import Q

from .models import Client, ServiceStatus

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "mrr": ("mrr", "name", "id"),
    "-mrr": ("-mrr", "name", "id"),
}


class ClientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    service_status = django_filters.ChoiceFilter(
        choices=ServiceStatus.choices, label="Service status", empty_label="Any status"
    )
    has_contract = django_filters.ChoiceFilter(
        choices=[("yes", "With a contract in force"), ("no", "Without a contract in force")],
        method="filter_has_contract",
        label="Contracts",
        empty_label="Any",
    )
    sort = django_filters.ChoiceFilter(
        choices=[
            ("name", "Name A–Z"),
            ("-name", "Name Z–A"),
            ("-mrr", "MRR, highest first"),
            ("mrr", "MRR, lowest first"),
        ],
        method="sort_by",
        label="Sort",
        empty_label="Name A–Z",
    )

    class Meta:
        model = Client
        fields = ["q", "service_status", "has_contract", "sort"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(psa_id__iexact=value)
            | Q(rmm_id__iexact=value)
            | Q(distributor_id__iexact=value)
        )

    def filter_has_contract(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(contracts_in_force__gt=0)
        if value == "no":
            return queryset.filter(contracts_in_force=0)
        return queryset

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["name"]))
