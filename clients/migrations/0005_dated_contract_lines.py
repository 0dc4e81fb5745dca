"""Contract lines become dated segments (start, end, the segment they replace); contracts say whether
they bill in advance or in arrears. Existing lines start with their contract (and end with it)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F, OuterRef, Q, Subquery


def lines_start_with_their_contract(apps, schema_editor):
    Contract = apps.get_model("clients", "Contract")
    ContractLine = apps.get_model("clients", "ContractLine")
    contract = Contract.objects.filter(pk=OuterRef("contract_id"))
    ContractLine.objects.update(
        start_date=Subquery(contract.values("start_date")[:1]),
        end_date=Subquery(contract.values("end_date")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [("clients", "0004_client_name_trigram")]

    operations = [
        migrations.AddField(
            model_name="contract",
            name="billing_timing",
            field=models.CharField(
                choices=[
                    ("advance", "In advance (the run's month)"),
                    ("arrears", "In arrears (the month before the run's)"),
                ],
                default="advance",
                max_length=8,
            ),
        ),
        migrations.AddConstraint(
            model_name="contract",
            constraint=models.CheckConstraint(
                condition=Q(billing_timing__in=["advance", "arrears"]),
                name="contract_billing_timing_valid",
                violation_error_message="Unknown billing timing.",
            ),
        ),
        migrations.AddField(
            model_name="contractline",
            name="start_date",
            field=models.DateField(null=True, help_text="First day in force (by default, the contract's start)."),
        ),
        migrations.AddField(
            model_name="contractline",
            name="end_date",
            field=models.DateField(blank=True, help_text="Last day in force, inclusive; empty = open.", null=True),
        ),
        migrations.AddField(
            model_name="contractline",
            name="replaces",
            field=models.ForeignKey(
                blank=True,
                help_text="The segment this one continues after a dated change.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replaced_by",
                to="clients.contractline",
            ),
        ),
        migrations.AddField(
            model_name="contractline",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(lines_start_with_their_contract, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="contractline",
            name="start_date",
            field=models.DateField(help_text="First day in force (by default, the contract's start)."),
        ),
        migrations.AddConstraint(
            model_name="contractline",
            constraint=models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contract_line_end_after_start",
                violation_error_message="A contract line cannot end before it starts.",
            ),
        ),
        migrations.AddIndex(
            model_name="contractline",
            index=models.Index(fields=["contract", "start_date"], name="contract_line_dates_idx"),
        ),
    ]
