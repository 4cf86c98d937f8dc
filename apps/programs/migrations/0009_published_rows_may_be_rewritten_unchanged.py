"""A published definition still cannot change, but writing it back unchanged is not a
change: restoring a copy of the database (or the test runner's serialized rows, which
carry times to the millisecond) rewrites rows as they are. Every column but the
record-keeping times must stay as it is, and the publication time to the millisecond;
DELETE stays refused on PostgreSQL. On SQLite (a first run on a laptop) the UPDATE
triggers are made again (rebuilding a table to alter a column drops its triggers) and
DELETE is left to the foreign keys that protect a version in use: SQLite's flush
deletes every row."""

from django.db import migrations

TABLES = {
    "programs_programmeversion": ("programme_id", "version", "definition", "status",
                                  "created_by_id", "published_by_id"),
    "programs_questionnaire": ("code", "version", "definition", "status"),
}

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION programs_published_refuse_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' AND (
        TG_OP = 'DELETE'
        OR to_jsonb(NEW) - 'created_at' - 'updated_at' - 'published_at'
           IS DISTINCT FROM to_jsonb(OLD) - 'created_at' - 'updated_at' - 'published_at'
        OR date_trunc('milliseconds', NEW.published_at)
           IS DISTINCT FROM date_trunc('milliseconds', OLD.published_at)) THEN
        RAISE EXCEPTION '% % is published and cannot change', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""
POSTGRES_PREVIOUS = """
CREATE OR REPLACE FUNCTION programs_published_refuse_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION '% % is published and cannot change', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


def _sqlite_update_trigger(table, columns):
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in columns)
    return f"""
    CREATE TRIGGER {table}_immutable_update BEFORE UPDATE ON {table}
        WHEN OLD.status = 'published' AND ({changed}
            OR substr(NEW.published_at, 1, 23) IS NOT substr(OLD.published_at, 1, 23))
    BEGIN SELECT RAISE(ABORT, 'published definitions cannot change'); END;
    """


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, params=None)
        return
    for table, columns in TABLES.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable_update;", params=None)
        schema_editor.execute(_sqlite_update_trigger(table, columns), params=None)
        # No DELETE trigger on SQLite: its flush (the test runner's, `manage.py flush`)
        # empties tables with DELETE, and the shipped version is a published row from
        # the first migration on. PostgreSQL refuses DELETE too (its flush truncates).
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable_delete;", params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_PREVIOUS, params=None)
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable_update;", params=None)
        schema_editor.execute(f"""
            CREATE TRIGGER {table}_immutable_update BEFORE UPDATE ON {table}
                WHEN OLD.status = 'published'
            BEGIN SELECT RAISE(ABORT, 'published definitions cannot change'); END;
            """, params=None)


class Migration(migrations.Migration):
    dependencies = [("programs", "0008_shipped_first_version")]
    operations = [migrations.RunPython(forward, backward)]
