"""FilterSets for the clients pages."""

import django_filters
from django.db.models import Q

from .models import Client, ServiceStatus


class SortFilter(django_filters.ChoiceFilter):
    """A list page's sort, as an allowlist of ``(key, label, ordering)``: any other value is a bad
    request (the form says so), and no value keeps the list's own order (the first choice's label
    names it)."""

    def __init__(self, sorts, **kwargs):
        self.orderings = {key: ordering for key, _label, ordering in sorts}
        choices = [(key, label) for key, label, _ordering in sorts]
        kwargs.setdefault("label", "Sort")
        super().__init__(choices=choices, empty_label=sorts[0][1], **kwargs)

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        return qs.order_by(*self.orderings[value])


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
    sort = SortFilter(
        [
            ("name", "Name A–Z", ("name", "id")),
            ("-name", "Name Z–A", ("-name", "-id")),
            ("-mrr", "MRR, highest first", ("-mrr", "name", "id")),
            ("mrr", "MRR, lowest first", ("mrr", "name", "id")),
        ]
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
