"""The main menu marks exactly one item as the current page."""

import re

import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "current"),
    [
        ("opportunities:queue", "Missed billing"),
        ("opportunities:rules", "Mapping rules"),
        ("opportunities:thresholds", "Mapping rules"),
        ("opportunities:imports", "Imports"),
        ("invoices:list", "Invoices"),
        ("clients:list", "Clients"),
        ("home", "Home"),
    ],
)
def test_one_menu_item_is_current(admin_client_, url, current):
    page = admin_client_.get(reverse(url)).content.decode()
    marked = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', page)
    assert marked == [current]
