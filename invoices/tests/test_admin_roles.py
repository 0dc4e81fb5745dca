"""Roles (data migration) and Django admin: configuration editable, money read-only."""

import pytest
from django.urls import reverse

from .factories import billed, client_in_class

pytestmark = pytest.mark.django_db


def test_roles_get_the_invoice_permissions(viewer, finance, admin_user):
    assert viewer.has_perm("invoices.view_invoice") and not viewer.has_perm("invoices.add_payment")
    assert finance.has_perm("invoices.add_payment") and finance.has_perm("invoices.resend_invoice")
    assert not finance.has_perm("invoices.change_customerclass")
    assert admin_user.has_perm("invoices.change_customerclass") and admin_user.has_perm("invoices.add_collectionstep")


def test_admin_edits_customer_classes_but_invoices_and_payments_are_read_only(admin_client_):
    invoice = billed(client_in_class(), "10.00")
    assert admin_client_.get(reverse("admin:invoices_customerclass_add")).status_code == 200
    assert admin_client_.get(reverse("admin:invoices_invoice_changelist")).status_code == 200
    page = admin_client_.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    assert page.status_code == 200 and b'name="amount_paid"' not in page.content
    assert admin_client_.get(reverse("admin:invoices_payment_add")).status_code == 403
    assert admin_client_.get(reverse("admin:invoices_allocation_changelist")).status_code == 200


def test_non_staff_finance_cannot_open_django_admin(finance_client):
    response = finance_client.get(reverse("admin:invoices_customerclass_changelist"))
    assert response.status_code == 302
