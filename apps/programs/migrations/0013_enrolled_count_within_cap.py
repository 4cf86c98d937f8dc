"""The enrolled count never exceeds the cap (a database check, beside the lock)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0012_enrolled_count_backfill'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='programme',
            constraint=models.CheckConstraint(condition=models.Q(('enrolled_count__lte', models.F('cap'))), name='programme_enrolled_within_cap'),
        ),
    ]
