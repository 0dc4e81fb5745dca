"""Customer classes (terms, threshold, collection schedule) and each client's billing profile."""

from django.db import models
from django.db.models import Q

from clients.models import Client
from clients.money import ZERO, MoneyField

from .choices import MAX_DAYS_OVERDUE, MAX_TERMS_DAYS, StepAction


class CustomerClass(models.Model):
    """A class of customers: payment terms, collection threshold and collection schedule."""

    name = models.CharField(max_length=100, unique=True)
    payment_terms_days = models.PositiveSmallIntegerField(default=30, help_text="Days from issue to due date.")
    collection_threshold = MoneyField(
        default=ZERO, help_text="An amount due below this is not payable yet: it carries into the next invoice."
    )
    is_default = models.BooleanField(
        default=False, help_text="Billing runs use this class for a client without a billing profile."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "customer classes"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="customer_class_one_default",
                violation_error_message="Another class is already the default.",
            ),
            models.CheckConstraint(
                condition=Q(collection_threshold__gte=0),
                name="customer_class_threshold_not_negative",
                violation_error_message="The collection threshold cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(payment_terms_days__lte=MAX_TERMS_DAYS),
                name="customer_class_terms_sane",
                violation_error_message=f"Payment terms: at most {MAX_TERMS_DAYS} days.",
            ),
        ]

    def __str__(self):
        return self.name


class CollectionStep(models.Model):
    """One step of a class's collection schedule: this many days overdue → this action."""

    customer_class = models.ForeignKey(CustomerClass, on_delete=models.CASCADE, related_name="steps")
    days_overdue = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=32, choices=StepAction.choices)

    class Meta:
        ordering = ["customer_class", "days_overdue", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_class", "days_overdue", "action"],
                name="collection_step_unique",
                violation_error_message="This class already has that action on that day.",
            ),
            models.CheckConstraint(
                condition=Q(days_overdue__gte=1, days_overdue__lte=MAX_DAYS_OVERDUE),
                name="collection_step_days_sane",
                violation_error_message=f"Days overdue: between 1 and {MAX_DAYS_OVERDUE:,}.",
            ),
            models.CheckConstraint(
                condition=Q(action__in=StepAction.values),
                name="collection_step_action_valid",
                violation_error_message="Unknown collection action.",
            ),
        ]

    def __str__(self):
        return f"{self.customer_class}: day {self.days_overdue} → {self.get_action_display()}"


class BillingProfile(models.Model):
    """A client's billing settings: its customer class and billing e-mail."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="billing_profile")
    customer_class = models.ForeignKey(CustomerClass, on_delete=models.PROTECT, related_name="profiles")
    billing_email = models.EmailField(blank=True)
    billing_start = models.DateField(
        null=True,
        blank=True,
        help_text="Bill this client's contracts from this month on (overrides the computed billing start).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.client}: {self.customer_class}"
