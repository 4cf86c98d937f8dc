"""The outcome as criteria and disqualifiers (settlement format version 2).

Expand, backfill, contract: the criteria are written from the old single
"below" target, the prediabetes programme gains the diabetes disqualifier
(SPEC §3.3: a lab HbA1c of 48 mmol/mol or more counts as not reached), and the
old columns go. The values are written out here, frozen.
"""

from decimal import Decimal

import apps.programs.models
from django.db import migrations, models

DISQUALIFIERS = {
    "prediabetes-2026": [{"measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"],
                          "op": "ge", "threshold": "48", "reason": "developed_diabetes"}],
}


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def backfill(apps, schema_editor):
    Programme = apps.get_model("programs", "Programme")
    for programme in Programme.objects.all():
        programme.outcome_criteria = [{
            "measure": programme.outcome_measure, "unit": programme.outcome_unit,
            "sources": ["lab"], "aggregate": "closest", "compare": "value", "op": "lt",
            "threshold": _plain(programme.outcome_below)}]
        programme.outcome_disqualifiers = DISQUALIFIERS.get(programme.code, [])
        programme.save(update_fields=["outcome_criteria", "outcome_disqualifiers"])


def create_current(apps, schema_editor):
    """The first programme as the migrations leave it (for tests that flush data)."""
    module = __import__("apps.programs.migrations.0002_prediabetes_programme",
                        fromlist=["PREDIABETES"])
    values = {key: value for key, value in module.PREDIABETES.items()
              if key not in {"outcome_measure", "outcome_below", "outcome_unit"}}
    values["outcome_criteria"] = [{
        "measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"], "aggregate": "closest",
        "compare": "value", "op": "lt", "threshold": "42"}]
    values["outcome_disqualifiers"] = DISQUALIFIERS["prediabetes-2026"]
    Programme = apps.get_model("programs", "Programme")
    # Called by the tests with today's models too: only the columns that still exist.
    columns = {field.name for field in Programme._meta.concrete_fields}
    Programme.objects.get_or_create(code="prediabetes-2026", defaults={
        key: value for key, value in values.items() if key in columns})


class Migration(migrations.Migration):
    dependencies = [("programs", "0003_followup_parameters")]
    operations = [
        migrations.AddField(
            model_name="programme", name="outcome_criteria",
            field=models.JSONField(
                default=apps.programs.models.default_outcome_criteria,
                help_text="Every criterion must be met: measure, unit, sources, aggregate "
                          "(closest or mean), compare (value, change or percent_change), op "
                          "(lt, le, gt, ge) and threshold. The first one is the target the "
                          "charts show.",
                validators=[apps.programs.models.validate_outcome_criteria],
                verbose_name="outcome criteria"),
        ),
        migrations.AddField(
            model_name="programme", name="outcome_disqualifiers",
            field=models.JSONField(
                blank=True, default=apps.programs.models.default_outcome_disqualifiers,
                help_text="A value at any time from enrollment to the end of the outcome "
                          "window that makes the outcome a failure: measure, unit, sources, "
                          "op, threshold and reason.",
                validators=[apps.programs.models.validate_outcome_disqualifiers],
                verbose_name="outcome disqualifiers"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RemoveField(model_name="programme", name="outcome_measure"),
        migrations.RemoveField(model_name="programme", name="outcome_below"),
        migrations.RemoveField(model_name="programme", name="outcome_unit"),
    ]
