"""Approved settlement runs and their lines cannot change: the database refuses.

Triggers on PostgreSQL (and on SQLite for first runs) reject UPDATE and DELETE
of an approved run, and INSERT, UPDATE and DELETE of lines of an approved run,
whatever path the change takes (ORM, queryset update, admin, raw SQL).
"""

from django.db import migrations

LINE_TABLES = ("settlements_providerline", "settlements_prepatientline")

POSTGRES_FORWARD = [
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
    DECLARE run_id bigint;
    BEGIN
        IF TG_OP = 'INSERT' THEN run_id := NEW.run_id; ELSE run_id := OLD.run_id; END IF;
        IF EXISTS (SELECT 1 FROM settlements_settlementrun r
                   WHERE r.id = run_id AND r.status = 'approved')
           OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM settlements_settlementrun r
                   WHERE r.id = NEW.run_id AND r.status = 'approved')) THEN
            RAISE EXCEPTION 'lines of approved settlement run % cannot change', run_id
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    *[
        f"""
        CREATE TRIGGER {table}_immutable BEFORE INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION settlement_line_refuse_change();
        """
        for table in LINE_TABLES
    ],
]
POSTGRES_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};" for table in LINE_TABLES],
    "DROP TRIGGER IF EXISTS settlement_run_immutable ON settlements_settlementrun;",
    "DROP FUNCTION IF EXISTS settlement_line_refuse_change();",
    "DROP FUNCTION IF EXISTS settlement_run_refuse_change();",
]

SQLITE_FORWARD = [
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
]
SQLITE_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS settlement_run_immutable_{op};" for op in ("update", "delete")],
    *[f"DROP TRIGGER IF EXISTS {table}_immutable_{op};" for table in LINE_TABLES
      for op in ("insert", "update", "delete")],
]


def forward(apps, schema_editor):
    statements = (POSTGRES_FORWARD if schema_editor.connection.vendor == "postgresql"
                  else SQLITE_FORWARD)
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    statements = (POSTGRES_BACKWARD if schema_editor.connection.vendor == "postgresql"
                  else SQLITE_BACKWARD)
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("settlements", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
