"""``settlement_round4(numeric)``: half-even rounding to 4 decimal places, as the
settlement format rounds every computed quantity (PostgreSQL's ``round`` rounds
half away from zero). Used by the SQL that evaluates a programme."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION settlement_round4(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN abs(x * 10000 - trunc(x * 10000)) = 0.5
            THEN round((trunc(x * 10000) + (abs(trunc(x * 10000)) % 2) * sign(x)) / 10000, 4)
        ELSE round(x, 4)
    END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS settlement_round4(numeric);"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("settlements", "0004_payments_and_evidence")]
    operations = [migrations.RunPython(forward, backward)]
