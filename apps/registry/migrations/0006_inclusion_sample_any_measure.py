"""An inclusion sample is a value of any measure a programme's inclusion reads, not an
HbA1c column: the samples taken so far are the first programme's HbA1c."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_questionnaire_responses")]
    operations = [
        migrations.RemoveConstraint(model_name="inclusionsample",
                                    name="inclusion_sample_plausible"),
        migrations.RenameField(model_name="inclusionsample", old_name="hba1c",
                               new_name="value"),
        migrations.AlterField(
            model_name="inclusionsample", name="value",
            field=models.DecimalField(decimal_places=3, max_digits=10, verbose_name="value")),
        migrations.AddField(
            model_name="inclusionsample", name="measure",
            field=models.SlugField(default="hba1c", max_length=32, verbose_name="measure"),
            preserve_default=False),
        migrations.AddConstraint(
            model_name="inclusionsample",
            constraint=models.CheckConstraint(condition=models.Q(value__gt=0),
                                              name="inclusion_sample_positive")),
    ]
