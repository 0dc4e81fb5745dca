"""The bulk-apply selection kept on the server: what joins it, the one limit, clearing."""

import datetime as dt

import pytest

from clients.dates import org_today
from opportunities.models import OpportunityState, SelectedItem
from opportunities.services import selection
from opportunities.services.actions import ActionRefused
from opportunities.services.selection import select_matching, selected_ids, update_selection

from .factories import ProductFactory, add_line_opportunity, billed_line, raise_quantity_opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def items():
    product = ProductFactory(name="Managed workstation")
    same = [raise_quantity_opportunity(line=billed_line(product=product)) for _ in range(3)]
    other = add_line_opportunity(product=ProductFactory(name="Backup seat"))
    return same, other


def pks(opps):
    return [o.pk for o in opps]


def test_a_page_of_ticks_adds_and_removes_only_what_that_page_shows(finance, items):
    same, _ = items
    update_selection(user=finance, shown=pks(same[:2]), ticked=pks(same[:2]))
    update_selection(user=finance, shown=pks(same[2:]), ticked=pks(same[2:]))  # another page
    assert sorted(selected_ids(finance)) == sorted(pks(same))
    update_selection(user=finance, shown=pks(same[:2]), ticked=[same[1].pk])
    assert sorted(selected_ids(finance)) == sorted(pks(same[1:]))


def test_items_that_cannot_go_together_do_not_join(finance, items):
    same, other = items
    update_selection(user=finance, shown=pks([*same, other]), ticked=pks([*same, other]))
    assert sorted(selected_ids(finance)) == sorted(pks(same))


def test_a_tick_not_shown_on_the_page_is_ignored(finance, items):
    same, _ = items
    update_selection(user=finance, shown=[same[0].pk], ticked=pks(same))
    assert selected_ids(finance) == [same[0].pk]


def test_each_person_has_their_own_selection(finance, admin_user, items):
    same, _ = items
    update_selection(user=finance, shown=pks(same), ticked=pks(same))
    assert selected_ids(admin_user) == []


def test_ticking_past_the_limit_is_refused_and_changes_nothing(finance, items, monkeypatch):
    same, _ = items
    monkeypatch.setattr(selection, "MAX_ITEMS", 2)
    update_selection(user=finance, shown=[same[0].pk], ticked=[same[0].pk])
    with pytest.raises(ActionRefused, match="at most 2 items and 1 are selected"):
        update_selection(user=finance, shown=pks(same[1:]), ticked=pks(same[1:]))
    assert selected_ids(finance) == [same[0].pk]


def test_more_numbers_than_the_limit_are_refused_before_any_query(finance, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(selection, "MAX_ITEMS", 3)
    with django_assert_num_queries(0), pytest.raises(ActionRefused, match="at most 3"):
        update_selection(user=finance, shown=[str(n) for n in range(1, 5)], ticked=[])


def test_select_matching_adds_the_compatible_ready_items_up_to_the_limit(finance, items, monkeypatch):
    same, other = items
    base = type(other).objects.all()
    assert select_matching(user=finance, queryset=base) == (3, False)
    assert sorted(selected_ids(finance)) == sorted(pks(same))
    SelectedItem.objects.all().delete()
    monkeypatch.setattr(selection, "MAX_ITEMS", 2)
    assert select_matching(user=finance, queryset=base) == (2, True)
    assert select_matching(user=finance, queryset=base) == (2, True)


def test_select_matching_follows_the_existing_selection_and_skips_what_is_not_open(finance, items):
    same, other = items
    type(other).objects.filter(pk=same[2].pk).update(
        state=OpportunityState.SNOOZED, snoozed_until=org_today() + dt.timedelta(days=3)
    )
    update_selection(user=finance, shown=[other.pk], ticked=[other.pk])
    assert select_matching(user=finance, queryset=type(other).objects.all()) == (1, False)
    update_selection(user=finance, shown=[other.pk], ticked=[])
    assert select_matching(user=finance, queryset=type(other).objects.all()) == (2, False)
    assert sorted(selected_ids(finance)) == sorted(pks(same[:2]))


def test_clear_empties_the_selection(finance, items):
    same, _ = items
    update_selection(user=finance, shown=pks(same), ticked=pks(same))
    selection.clear_selection(user=finance)
    assert selected_ids(finance) == []
