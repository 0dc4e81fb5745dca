"""Mapping rules: how they match (in SQL), which one wins, and the admin pages for them."""

import pytest
from django.urls import reverse

from opportunities.models import DetectionRun, Device, Opportunity, Subscription
from opportunities.services.detection import run_detection
from opportunities.services.rules import like_pattern

from .factories import (
    ClientFactory,
    ContractFactory,
    ContractLineFactory,
    DeviceFactory,
    DeviceRuleFactory,
    MigrationRuleFactory,
    ProductFactory,
    SkuRuleFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


def detect():
    return run_detection(trigger=DetectionRun.Trigger.COMMAND)


def test_shell_patterns_become_escaped_like_patterns():
    assert like_pattern("LAB-*") == "lab-%"
    assert like_pattern("WS-??") == "ws-__"
    assert like_pattern("100%_done") == "100\\%\\_done"


def test_hostname_patterns_match_case_insensitively_and_literally(db):
    product = ProductFactory()
    DeviceRuleFactory(device_type="", hostname_pattern="lab_*", product=product)
    client = ClientFactory()
    DeviceFactory(client=client, hostname="LAB_01")
    DeviceFactory(client=client, hostname="LABX01")  # "_" is literal, not any character
    detect()
    assert list(Device.objects.filter(mapped_product=product).values_list("hostname", flat=True)) == ["LAB_01"]


def test_the_lower_priority_number_wins_within_a_scope(db):
    first, second = ProductFactory(), ProductFactory()
    DeviceRuleFactory(product=second, priority=50)
    rule = DeviceRuleFactory(product=first, priority=10)
    device = DeviceFactory()
    detect()
    device.refresh_from_db()
    assert (device.mapped_product, device.mapping_rule) == (first, rule)


def test_inactive_rules_do_not_match(db):
    DeviceRuleFactory(active=False)
    DeviceFactory()
    detect()
    assert Opportunity.objects.get().kind == "unmapped"


def test_a_client_specific_sku_rule_beats_the_global_one_and_skus_ignore_case(db):
    acme, other = ClientFactory(), ClientFactory()
    general, special = ProductFactory(), ProductFactory()
    SkuRuleFactory(vendor_sku="ABC", product=general, priority=1)
    SkuRuleFactory(vendor_sku="ABC", product=special, client=acme, priority=900)
    SubscriptionFactory(client=acme, vendor_sku=" abc ")
    SubscriptionFactory(client=other, vendor_sku="ABC")
    detect()
    assert Subscription.objects.get(client=acme).mapped_product == special
    assert Subscription.objects.get(client=other).mapped_product == general


def test_an_excluded_sku_is_not_billed_and_not_unmapped(db):
    SkuRuleFactory(vendor_sku="TRIAL-1", product=None, exclude=True)
    SubscriptionFactory(vendor_sku="TRIAL-1")
    detect()
    assert not Opportunity.objects.exists()


def test_a_client_specific_migration_rule_beats_the_global_one(db):
    old = ProductFactory(retired=True)
    general, special = ProductFactory(), ProductFactory()
    acme = ClientFactory()
    MigrationRuleFactory(from_product=old, product=general)
    MigrationRuleFactory(from_product=old, product=special, client=acme, priority=999)
    ContractLineFactory(contract=ContractFactory(client=acme), product=old, quantity=2)
    detect()
    assert Opportunity.objects.get().plan_product == special


def test_a_rule_change_remaps_devices_on_the_next_run(db):
    ws, srv = ProductFactory(), ProductFactory()
    rule = DeviceRuleFactory(product=ws)
    device = DeviceFactory()
    detect()
    rule.product = srv
    rule.save()
    detect()
    device.refresh_from_db()
    assert device.mapped_product == srv


@pytest.mark.parametrize(
    "model", ["device", "subscription", "mappingrule", "detectionsettings", "detectionrun", "sourceimport"]
)
def test_the_django_admin_lists_each_model(admin_client_, model):
    DeviceRuleFactory()
    DeviceFactory()
    SubscriptionFactory()
    detect()
    response = admin_client_.get(reverse(f"admin:opportunities_{model}_changelist") + "?q=x")
    assert response.status_code == 200


def test_a_device_and_a_subscription_open_in_the_django_admin_by_their_source_ids(admin_client_):
    """The source's id is the key, slashes and spaces included; the page stays the same across imports."""
    from django.contrib.admin.utils import quote

    device = DeviceFactory(device_id="N-central/42 A", hostname="WS-42")
    subscription = SubscriptionFactory(subscription_id="sub_7?x")
    page = admin_client_.get(reverse("admin:opportunities_device_change", args=[quote(device.pk)]))
    assert page.status_code == 200 and b"WS-42" in page.content
    assert b'name="device_id"' not in page.content  # shown, not editable: a new id would save a second device
    page = admin_client_.get(reverse("admin:opportunities_subscription_change", args=[quote(subscription.pk)]))
    assert page.status_code == 200 and b"sub_7?x" in page.content
    assert b'name="subscription_id"' not in page.content
    assert b'name="device_id"' in admin_client_.get(reverse("admin:opportunities_device_add")).content


def test_a_rule_saved_in_the_django_admin_records_who(admin_client_, admin_user):
    product = ProductFactory()
    response = admin_client_.post(
        reverse("admin:opportunities_mappingrule_add"),
        {"kind": "subscription", "priority": 100, "vendor_sku": "xyz", "product": product.pk, "active": "on"},
    )
    assert response.status_code == 302
    from opportunities.models import MappingRule

    rule = MappingRule.objects.get()
    assert (rule.vendor_sku, rule.created_by) == ("XYZ", admin_user)
