"""Prepatient lines: references checked once per statement instead of once per row.

A run inserts one line per prepatient (300,000 at national scale) in a single
statement; per-row foreign-key checks cost more than computing the lines. The
line's run, prepatient and provider are therefore checked by the statement-level
insert trigger (one anti-join over the inserted rows), and the referenced rows
cannot be deleted while lines refer to them (a trigger on each of their tables).
The single-column indexes on run, prepatient and provider go: the unique
(run, prepatient) and the (run, provider, result) indexes lead with the run, and
nothing looks lines up by prepatient or provider alone but the delete guards
below, for deletions the platform never makes.

On PostgreSQL covering indexes let the settlement read the values of the measures a
programme's rules name without visiting the rest of the measurements table (an
index-only scan; about seven in eight stored values are of other measures), and
the baseline sets without the eight other sets of every prepatient.
"""

import django.db.models.deletion
from django.db import migrations, models

LINES = "settlements_prepatientline"
REFERENCED = (("settlements_settlementrun", "run_id"), ("registry_prepatient", "prepatient_id"),
              ("providers_provider", "provider_id"))

POSTGRES_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION settlement_prepatientline_insert_checked() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM settlements_settlementrun r
                   WHERE r.status = 'approved'
                     AND r.id IN (SELECT DISTINCT run_id FROM inserted)) THEN
            RAISE EXCEPTION 'lines cannot be added to an approved settlement run'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF EXISTS (SELECT 1 FROM inserted i
                   LEFT JOIN settlements_settlementrun r ON r.id = i.run_id WHERE r.id IS NULL)
           OR EXISTS (SELECT 1 FROM inserted i
                      LEFT JOIN registry_prepatient p ON p.id = i.prepatient_id
                      WHERE p.id IS NULL)
           OR EXISTS (SELECT 1 FROM inserted i
                      LEFT JOIN providers_provider v ON v.id = i.provider_id
                      WHERE i.provider_id IS NOT NULL AND v.id IS NULL) THEN
            RAISE EXCEPTION 'a settlement line refers to a run, prepatient or provider that '
                            'does not exist' USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql;
    """,
    f"DROP TRIGGER IF EXISTS {LINES}_insert_checked ON {LINES};",
    f"""
    CREATE TRIGGER {LINES}_insert_checked AFTER INSERT ON {LINES}
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION settlement_prepatientline_insert_checked();
    """,
    """
    CREATE OR REPLACE FUNCTION settlement_prepatientline_update_checked() RETURNS trigger AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM settlements_settlementrun WHERE id = NEW.run_id)
           OR NOT EXISTS (SELECT 1 FROM registry_prepatient WHERE id = NEW.prepatient_id)
           OR (NEW.provider_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM providers_provider WHERE id = NEW.provider_id))
        THEN
            RAISE EXCEPTION 'a settlement line refers to a run, prepatient or provider that '
                            'does not exist' USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    f"""
    CREATE TRIGGER {LINES}_update_checked BEFORE UPDATE ON {LINES}
        FOR EACH ROW EXECUTE FUNCTION settlement_prepatientline_update_checked();
    """,
    """
    CREATE OR REPLACE FUNCTION settlement_line_referenced() RETURNS trigger AS $$
    DECLARE referred boolean;
    BEGIN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM settlements_prepatientline WHERE %I = $1)',
                       TG_ARGV[0]) INTO referred USING OLD.id;
        IF referred THEN
            RAISE EXCEPTION '% % is referred to by settlement lines', TG_TABLE_NAME, OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN OLD;
    END $$ LANGUAGE plpgsql;
    """,
    *[
        f"""
        CREATE TRIGGER {table}_kept_for_lines BEFORE DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION settlement_line_referenced('{column}');
        """
        for table, column in REFERENCED
    ],
]
POSTGRES_FORWARD += ["""
    CREATE INDEX IF NOT EXISTS measurement_settlement ON measurements_measurement
        (type_id, prepatient_id) INCLUDE (taken_on, reported_value, reported_unit,
                                          reporter_kind, received_at, id)
""", """
    CREATE INDEX IF NOT EXISTS followup_baseline_set ON measurements_followupdue
        (prepatient_id) INCLUDE (window_start, window_end, completed_at) WHERE index = 0
"""]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS measurement_settlement;",
    "DROP INDEX IF EXISTS followup_baseline_set;",
    f"DROP TRIGGER IF EXISTS {LINES}_update_checked ON {LINES};",
    "DROP FUNCTION IF EXISTS settlement_prepatientline_update_checked();",
    f"DROP TRIGGER IF EXISTS {LINES}_insert_checked ON {LINES};",
    "DROP FUNCTION IF EXISTS settlement_prepatientline_insert_checked();",
    f"""
    CREATE TRIGGER {LINES}_insert_checked AFTER INSERT ON {LINES}
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION settlement_line_refuse_insert();
    """,
    *[f"DROP TRIGGER IF EXISTS {table}_kept_for_lines ON {table};" for table, _c in REFERENCED],
    "DROP FUNCTION IF EXISTS settlement_line_referenced();",
]

SQLITE_LINE_TRIGGERS = [
    f"""
    CREATE TRIGGER {LINES}_immutable_{op.lower()} BEFORE {op} ON {LINES}
        WHEN (SELECT status FROM settlements_settlementrun WHERE id = {row}.run_id) = 'approved'
    BEGIN SELECT RAISE(ABORT, 'lines of approved settlement runs cannot change'); END;
    """
    for op, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD"))
] + [
    f"""
    CREATE TRIGGER {LINES}_references_{op.lower()} BEFORE {op} ON {LINES}
        WHEN NOT EXISTS (SELECT 1 FROM settlements_settlementrun WHERE id = NEW.run_id)
          OR NOT EXISTS (SELECT 1 FROM registry_prepatient WHERE id = NEW.prepatient_id)
          OR (NEW.provider_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM providers_provider WHERE id = NEW.provider_id))
    BEGIN SELECT RAISE(ABORT, 'a settlement line refers to a row that does not exist'); END;
    """
    for op in ("INSERT", "UPDATE")
]
SQLITE_FORWARD = [
    *SQLITE_LINE_TRIGGERS,
    *[
        f"""
        CREATE TRIGGER {table}_kept_for_lines BEFORE DELETE ON {table}
            WHEN EXISTS (SELECT 1 FROM {LINES} WHERE {column} = OLD.id)
        BEGIN SELECT RAISE(ABORT, 'referred to by settlement lines'); END;
        """
        for table, column in REFERENCED
    ],
]
SQLITE_DROP_LINE_TRIGGERS = [
    *[f"DROP TRIGGER IF EXISTS {LINES}_immutable_{op};" for op in ("insert", "update", "delete")],
    *[f"DROP TRIGGER IF EXISTS {LINES}_references_{op};" for op in ("insert", "update")],
]
SQLITE_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_kept_for_lines;" for table, _c in REFERENCED],
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)


def before(apps, schema_editor):
    # SQLite rebuilds the table for the changes below, which drops its triggers.
    if schema_editor.connection.vendor != "postgresql":
        _run(schema_editor, SQLITE_DROP_LINE_TRIGGERS + SQLITE_BACKWARD)


def after(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, POSTGRES_FORWARD)
    else:
        _run(schema_editor, SQLITE_DROP_LINE_TRIGGERS + SQLITE_FORWARD)


def undo_after(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, POSTGRES_BACKWARD)
    else:
        _run(schema_editor, SQLITE_BACKWARD + SQLITE_DROP_LINE_TRIGGERS)


def undo_before(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        _run(schema_editor, SQLITE_LINE_TRIGGERS[:3])


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0003_settlement_dispute_scope'),
        ('registry', '0003_rating_moderation'),
        ('settlements', '0005_round_half_even'),
    ]

    operations = [
        migrations.RunPython(before, undo_before),
        migrations.AlterField(
            model_name='prepatientline',
            name='prepatient',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.prepatient', verbose_name='prepatient'),
        ),
        migrations.AlterField(
            model_name='prepatientline',
            name='provider',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='providers.provider', verbose_name='attributed to'),
        ),
        migrations.AlterField(
            model_name='prepatientline',
            name='run',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='prepatient_lines', to='settlements.settlementrun', verbose_name='run'),
        ),
        migrations.RunPython(after, undo_after),
    ]
