import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from clients.dates import display_date
from clients.tests.factories import ClientFactory, ContractFactory, ContractLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_negative_quantity():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractLineFactory(quantity=-1)


def test_the_database_refuses_a_duplicate_sku():
    ProductFactory(sku="MS-WS")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(sku="MS-WS")


def test_the_database_refuses_a_contract_that_ends_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 4, 30))


def test_two_clients_cannot_share_an_rmm_id_but_many_may_have_none():
    ClientFactory(rmm_id="")
    ClientFactory(rmm_id="")
    ClientFactory(rmm_id="R-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientFactory(rmm_id="R-1")


def test_line_monthly_total_is_exact_decimal():
    line = ContractLineFactory(quantity=3, unit_price=Decimal("33.33"))
    assert line.monthly_total == Decimal("99.99")


def test_validation_message_names_the_rule():
    from django.core.exceptions import ValidationError

    contract = ContractFactory.build(start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 4, 1))
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        contract.validate_constraints()


@pytest.mark.django_db
def test_migrating_one_app_of_a_new_database_leaves_the_roles_of_apps_not_migrated_yet_alone():
    """``migrate opportunities 0007`` on a new database: post_migrate runs for every app, with a
    state that lacks the apps not migrated yet."""
    from django.apps import apps as global_apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from clients.roles import restore_roles

    state = MigrationLoader(connection).project_state(("clients", "0002_roles")).apps
    with pytest.raises(LookupError):
        state.get_app_config("invoices")
    restore_roles(sender=global_apps.get_app_config("invoices"), apps=state)  # no error


def test_dates_read_the_same_in_messages_as_on_the_pages():
    # "j M Y", as every template writes a date: no leading zero, English month.
    assert display_date(dt.date(2026, 12, 5)) == "5 Dec 2026"
    assert display_date(dt.date(2026, 12, 13)) == "13 Dec 2026"
