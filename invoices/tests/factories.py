"""Factories and small helpers for the invoices tests."""

import datetime as dt
from decimal import Decimal

import factory

from clients.dates import org_today
from clients.models import Client
from invoices import services
from invoices.models import CollectionStep, CustomerClass


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n:03d}")


class CustomerClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerClass

    name = factory.Sequence(lambda n: f"Class {n}")
    payment_terms_days = 30
    collection_threshold = Decimal("0.00")


class CollectionStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectionStep

    customer_class = factory.SubFactory(CustomerClassFactory)
    days_overdue = 1
    action = "resend"


D = Decimal


def ago(days: int) -> dt.date:
    """The organisation's today minus ``days``."""
    return org_today() - dt.timedelta(days=days)


def billed(client, amount, *, on=None, **kwargs):
    """Issue a one-line invoice for ``amount`` (today by default)."""
    return services.issue_invoice(
        client, issued_on=on or org_today(), lines=[("Managed services", 1, D(str(amount)))], **kwargs
    )


def paid(client, amount, *, on=None, reference=None):
    """Record a payment of ``amount`` (today by default)."""
    billed.counter = getattr(billed, "counter", 0) + 1
    return services.record_payment(
        client, amount=D(str(amount)), received_on=on or org_today(), reference=reference or f"PAY-{billed.counter}"
    )


def client_in_class(*, threshold="0.00", terms=30, email="ap@example.com", steps=()):
    cls = CustomerClassFactory(collection_threshold=D(threshold), payment_terms_days=terms)
    for days, action in steps:
        CollectionStepFactory(customer_class=cls, days_overdue=days, action=action)
    client = ClientFactory()
    services.assign_customer_class(client, cls, billing_email=email)
    return client
