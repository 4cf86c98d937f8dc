"""Published programme versions and questionnaires cannot change: the database refuses
an UPDATE or DELETE of a published row, whatever path the change takes (ORM, queryset
update, admin, raw SQL). A draft may be changed, published (one UPDATE from draft) or
deleted."""

from django.db import migrations

TABLES = ("programs_programmeversion", "programs_questionnaire")

POSTGRES_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION programs_published_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION '% % is published and cannot change', TG_TABLE_NAME, OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    *[
        f"""
        CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION programs_published_refuse_change();
        """
        for table in TABLES
    ],
]
POSTGRES_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};" for table in TABLES],
    "DROP FUNCTION IF EXISTS programs_published_refuse_change();",
]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER {table}_immutable_{op.lower()} BEFORE {op} ON {table}
        WHEN OLD.status = 'published'
    BEGIN SELECT RAISE(ABORT, 'published definitions cannot change'); END;
    """
    for table in TABLES
    for op in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_immutable_{op};"
                   for table in TABLES for op in ("update", "delete")]


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
    dependencies = [("programs", "0005_definitions_as_data")]
    operations = [migrations.RunPython(forward, backward)]
