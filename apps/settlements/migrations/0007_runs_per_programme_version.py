"""A run settles the enrollments of one programme version; each payment names it.

Every run and payment written from now on names its version: on PostgreSQL a check
constraint added NOT VALID holds it for new rows while leaving the rows approved
before versions existed (immutable, never rewritten) as they are; those count as
their programme's first version (``apps.settlements.rules.run_version``).
"""

import django.db.models.deletion
from django.db import migrations, models

TABLES = ("settlements_settlementrun", "settlements_providerpayment")


def require_version(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_names_version "
            "CHECK (programme_version_id IS NOT NULL) NOT VALID")


def drop_requirement(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_names_version")


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0008_shipped_first_version'),
        ('providers', '0003_settlement_dispute_scope'),
        ('settlements', '0006_line_references_per_statement'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='providerpayment',
            name='payment_one_final_per_provider',
        ),
        migrations.AddField(
            model_name='providerpayment',
            name='programme_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='programs.programmeversion', verbose_name='programme version'),
        ),
        migrations.AddField(
            model_name='settlementrun',
            name='programme_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='settlement_runs', to='programs.programmeversion', verbose_name='programme version'),
        ),
        migrations.AddConstraint(
            model_name='providerpayment',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'final')), fields=('programme_version', 'provider'), name='payment_one_final_per_provider', violation_error_message="This provider's outcomes have already been settled by an approved final run."),
        ),
        migrations.RunPython(require_version, drop_requirement),
    ]
