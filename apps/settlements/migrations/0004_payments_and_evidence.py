"""Settlement format version 2: evidence on every line, payments paid once, runs that
cannot get lost.

- Lines carry the evidence (criteria and disqualifiers with their samples) and the
  day of the deciding event; the single "deciding sample" columns go. Lines of runs
  computed before keep their reasons, marked as format version 1, their deciding
  sample kept as evidence.
- ``ProviderPayment``: what an approval pays each provider; at most one final
  payment per provider and programme. Payments of runs approved before are
  written from their provider lines.
- Runs record their computation attempts and when they were handed to the workers.
- The immutability triggers are replaced (the SQLite table rebuilds drop them):
  an approved run and its lines cannot change; lines are checked once per INSERT
  statement (a statement-level trigger on PostgreSQL, not one per row); payments
  can only be inserted for an approved run, and never changed or deleted.
"""


import apps.core.clock
import django.db.models.deletion
from django.db import migrations, models



LINE_TABLES = ("settlements_providerline", "settlements_prepatientline")

POSTGRES_DROP = [
    *[f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};" for table in LINE_TABLES],
    "DROP TRIGGER IF EXISTS settlement_run_immutable ON settlements_settlementrun;",
    "DROP FUNCTION IF EXISTS settlement_line_refuse_change();",
    "DROP FUNCTION IF EXISTS settlement_run_refuse_change();",
]

POSTGRES_CREATE = [
    """
    CREATE OR REPLACE FUNCTION settlement_run_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'approved' THEN
            RAISE EXCEPTION 'settlement run % is approved and cannot change', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER settlement_run_immutable BEFORE UPDATE OR DELETE
        ON settlements_settlementrun FOR EACH ROW EXECUTE FUNCTION settlement_run_refuse_change();
    """,
    """
    CREATE OR REPLACE FUNCTION settlement_line_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM settlements_settlementrun r
                   WHERE r.id IN (OLD.run_id, NEW.run_id) AND r.status = 'approved') THEN
            RAISE EXCEPTION 'lines of approved settlement run % cannot change', OLD.run_id
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE OR REPLACE FUNCTION settlement_line_refuse_insert() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM settlements_settlementrun r
                   WHERE r.status = 'approved'
                     AND r.id IN (SELECT DISTINCT run_id FROM inserted)) THEN
            RAISE EXCEPTION 'lines cannot be added to an approved settlement run'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql;
    """,
    *[
        statement
        for table in LINE_TABLES
        for statement in (
            f"""
            CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION settlement_line_refuse_change();
            """,
            f"""
            CREATE TRIGGER {table}_insert_checked AFTER INSERT ON {table}
                REFERENCING NEW TABLE AS inserted
                FOR EACH STATEMENT EXECUTE FUNCTION settlement_line_refuse_insert();
            """,
        )
    ],
    """
    CREATE OR REPLACE FUNCTION settlement_payment_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NOT EXISTS (SELECT 1 FROM settlements_settlementrun r
                           WHERE r.id = NEW.run_id AND r.status = 'approved') THEN
                RAISE EXCEPTION 'a payment belongs to an approved settlement run'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'settlement payments cannot change'
            USING ERRCODE = 'restrict_violation';
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER settlement_payment_immutable BEFORE INSERT OR UPDATE OR DELETE
        ON settlements_providerpayment FOR EACH ROW EXECUTE FUNCTION settlement_payment_guard();
    """,
]

SQLITE_DROP = [
    *[f"DROP TRIGGER IF EXISTS settlement_run_immutable_{op};" for op in ("update", "delete")],
    *[f"DROP TRIGGER IF EXISTS {table}_immutable_{op};" for table in LINE_TABLES
      for op in ("insert", "update", "delete")],
]

SQLITE_CREATE = [
    *[
        f"""
        CREATE TRIGGER settlement_run_immutable_{op.lower()} BEFORE {op}
            ON settlements_settlementrun WHEN OLD.status = 'approved'
        BEGIN SELECT RAISE(ABORT, 'approved settlement runs cannot change'); END;
        """
        for op in ("UPDATE", "DELETE")
    ],
    *[
        f"""
        CREATE TRIGGER {table}_immutable_{op.lower()} BEFORE {op} ON {table}
            WHEN (SELECT status FROM settlements_settlementrun WHERE id = {row}.run_id)
                 = 'approved'
        BEGIN SELECT RAISE(ABORT, 'lines of approved settlement runs cannot change'); END;
        """
        for table in LINE_TABLES
        for op, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD"))
    ],
    """
    CREATE TRIGGER settlement_payment_insert BEFORE INSERT ON settlements_providerpayment
        WHEN (SELECT status FROM settlements_settlementrun WHERE id = NEW.run_id)
             IS NOT 'approved'
    BEGIN SELECT RAISE(ABORT, 'a payment belongs to an approved settlement run'); END;
    """,
    *[
        f"""
        CREATE TRIGGER settlement_payment_{op.lower()} BEFORE {op}
            ON settlements_providerpayment
        BEGIN SELECT RAISE(ABORT, 'settlement payments cannot change'); END;
        """
        for op in ("UPDATE", "DELETE")
    ],
]
SQLITE_DROP_NEW = [
    "DROP TRIGGER IF EXISTS settlement_payment_insert;",
    "DROP TRIGGER IF EXISTS settlement_payment_update;",
    "DROP TRIGGER IF EXISTS settlement_payment_delete;",
]
POSTGRES_DROP_NEW = [
    *[f"DROP TRIGGER IF EXISTS {table}_insert_checked ON {table};" for table in LINE_TABLES],
    "DROP TRIGGER IF EXISTS settlement_payment_immutable ON settlements_providerpayment;",
    "DROP FUNCTION IF EXISTS settlement_payment_guard();",
    "DROP FUNCTION IF EXISTS settlement_line_refuse_insert();",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRES_DROP if postgres else SQLITE_DROP)


def restore_old_triggers(apps, schema_editor):
    module = __import__("apps.settlements.migrations.0002_immutable_approved_runs",
                        fromlist=["forward"])
    module.forward(apps, schema_editor)


def create_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRES_CREATE if postgres else SQLITE_CREATE)


def drop_new_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, (POSTGRES_DROP_NEW + POSTGRES_DROP) if postgres
         else (SQLITE_DROP_NEW + SQLITE_DROP))


def _plain(value):
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def mark_version_1(apps, schema_editor):
    """Runs computed before are of format version 1; their deciding sample is kept as
    the evidence of the line."""
    SettlementRun = apps.get_model("settlements", "SettlementRun")
    PrepatientLine = apps.get_model("settlements", "PrepatientLine")
    SettlementRun.objects.update(format_version=1)
    for line in PrepatientLine.objects.exclude(deciding_taken_on=None).iterator():
        line.evidence = [{
            "rule": "criterion", "measure": "hba1c", "unit": line.deciding_unit or "mmol/mol",
            "quantity": _plain(line.deciding_value), "baseline": None,
            "met": line.result == "success", "op": "lt", "threshold": "42",
            "aggregate": "closest", "compare": "value",
            "samples": [{"taken_on": line.deciding_taken_on.isoformat(),
                         "value": _plain(line.deciding_value),
                         "unit": line.deciding_unit or "mmol/mol",
                         "measurement": line.deciding_measurement_id}],
        }]
        line.save(update_fields=["evidence"])


def backfill_payments(apps, schema_editor):
    """Payments of the runs approved before: a final run pays each final provider line
    once; an adjustment pays the difference to what was paid."""
    SettlementRun = apps.get_model("settlements", "SettlementRun")
    ProviderPayment = apps.get_model("settlements", "ProviderPayment")
    approved = SettlementRun.objects.filter(status="approved",
                                            kind__in=["final", "adjustment"])
    for run in approved.order_by("approved_at", "pk"):
        for line in run.provider_lines.filter(final=True).order_by("provider_id"):
            previous = (ProviderPayment.objects
                        .filter(programme_id=run.programme_id, provider_id=line.provider_id)
                        .order_by("-approved_at", "-pk").first())
            if run.kind == "final" and previous is None:
                ProviderPayment.objects.create(
                    programme_id=run.programme_id, provider_id=line.provider_id, run=run,
                    line=line, kind="final", amount=line.amount, settled_amount=line.amount,
                    approved_at=run.approved_at)
            elif run.kind == "adjustment" and previous is not None:
                ProviderPayment.objects.create(
                    programme_id=run.programme_id, provider_id=line.provider_id, run=run,
                    line=line, kind="adjustment",
                    amount=line.amount - previous.settled_amount,
                    settled_amount=line.amount, corrects=previous,
                    approved_at=run.approved_at)


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0004_outcome_criteria'),
        ('providers', '0003_settlement_dispute_scope'),
        ('settlements', '0003_disputes'),
    ]

    operations = [
        migrations.RunPython(drop_triggers, restore_old_triggers),
        migrations.AddField(
            model_name='prepatientline',
            name='decided_on',
            field=models.DateField(blank=True, help_text='The day of the event that decided (death, dropping out, withdrawal, exclusion).', null=True, verbose_name='decided on'),
        ),
        migrations.AddField(
            model_name='prepatientline',
            name='evidence',
            field=models.JSONField(blank=True, default=list, help_text="Each outcome criterion (or the disqualifier that held) with the samples it used, as in the auditor's result file.", verbose_name='evidence'),
        ),
        migrations.AddField(
            model_name='settlementrun',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='computation attempts'),
        ),
        migrations.AddField(
            model_name='settlementrun',
            name='enqueued_at',
            field=models.DateTimeField(blank=True, help_text='Empty while the message broker could not be reached; the run is then queued again by the periodic check.', null=True, verbose_name='handed to the workers'),
        ),
        migrations.AddField(
            model_name='settlementrun',
            name='format_version',
            field=models.PositiveSmallIntegerField(default=2, help_text='The version of the settlement rules the run was computed with.', verbose_name='settlement format version'),
        ),
        migrations.AddField(
            model_name='settlementrun',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='computation started'),
        ),
        migrations.RunPython(mark_version_1, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='prepatientline',
            name='deciding_measurement',
        ),
        migrations.RemoveField(
            model_name='prepatientline',
            name='deciding_taken_on',
        ),
        migrations.RemoveField(
            model_name='prepatientline',
            name='deciding_unit',
        ),
        migrations.RemoveField(
            model_name='prepatientline',
            name='deciding_value',
        ),
        migrations.CreateModel(
            name='ProviderPayment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('final', 'Final settlement'), ('adjustment', 'Adjustment (the difference)')], max_length=12, verbose_name='kind')),
                ('amount', models.DecimalField(decimal_places=2, help_text="An adjustment's difference may be negative (money to be paid back).", max_digits=15, verbose_name='amount paid')),
                ('settled_amount', models.DecimalField(decimal_places=2, help_text="The provider's whole settlement after this payment.", max_digits=15, verbose_name='settled amount')),
                ('approved_at', models.DateTimeField(default=apps.core.clock.now, verbose_name='approved')),
                ('corrects', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='corrected_by', to='settlements.providerpayment', verbose_name='corrects payment')),
                ('line', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='payment', to='settlements.providerline', verbose_name='provider line')),
                ('programme', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='programs.programme', verbose_name='programme')),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='settlement_payments', to='providers.provider', verbose_name='provider')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='payments', to='settlements.settlementrun', verbose_name='run')),
            ],
            options={
                'verbose_name': 'provider payment',
                'verbose_name_plural': 'provider payments',
                'ordering': ('programme', 'provider', 'approved_at', 'pk'),
                'constraints': [models.UniqueConstraint(condition=models.Q(('kind', 'final')), fields=('programme', 'provider'), name='payment_one_final_per_provider', violation_error_message="This provider's outcomes have already been settled by an approved final run."), models.CheckConstraint(condition=models.Q(models.Q(('amount', models.F('settled_amount')), ('amount__gte', 0), ('corrects__isnull', True), ('kind', 'final')), models.Q(('corrects__isnull', False), ('kind', 'adjustment')), _connector='OR'), name='payment_kind_consistent'), models.CheckConstraint(condition=models.Q(('settled_amount__gte', 0)), name='payment_settled_not_negative')],
            },
        ),
        migrations.RunPython(backfill_payments, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_new_triggers),
    ]
