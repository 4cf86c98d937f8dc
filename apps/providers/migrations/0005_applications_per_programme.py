"""An application is made for a programme, with that programme's declarations: the
declarations worded for the first programme's HbA1c band and 24 months become the
programme's own target group, outcome and length. Every application there is today was
made for the first programme (the earliest), the one there was."""

import django.db.models.deletion
from django.db import migrations, models


def for_the_first_programme(apps, schema_editor):
    Programme = apps.get_model("programs", "Programme")
    Application = apps.get_model("providers", "AuthorizationApplication")
    first = Programme.objects.order_by("start_date", "pk").first()
    if first is not None:
        Application.objects.filter(programme__isnull=True).update(programme=first)


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0010_figures_of_the_current_version'),
        ('providers', '0004_programmes_offered'),
    ]

    operations = [
        migrations.RenameField(
            model_name='authorizationapplication',
            old_name='targets_hba1c_range',
            new_name='targets_programme_outcome',
        ),
        migrations.RenameField(
            model_name='authorizationapplication',
            old_name='cost_coverage_24_months',
            new_name='cost_coverage_programme_months',
        ),
        migrations.AlterField(
            model_name='authorizationapplication',
            name='targets_programme_outcome',
            field=models.BooleanField(default=False, verbose_name="The support is aimed at the programme's target group and at its outcome, as the programme's definition states them"),
        ),
        migrations.AlterField(
            model_name='authorizationapplication',
            name='cost_coverage_programme_months',
            field=models.BooleanField(default=False, verbose_name="The costs of operation for the programme's whole length are covered by own capital or by an external financier acting as guarantor"),
        ),
        migrations.AddField(
            model_name='authorizationapplication',
            name='programme',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='programs.programme', verbose_name='programme', help_text='The programme the provider applies to offer its support in.'),
        ),
        migrations.RunPython(for_the_first_programme, migrations.RunPython.noop),
    ]
