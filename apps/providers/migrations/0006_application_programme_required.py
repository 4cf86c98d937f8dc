"""Every application names its programme (set for the earlier ones by 0005, in its own
transaction: PostgreSQL refuses to alter a table with the deferred checks of that
update still pending)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0005_applications_per_programme'),
    ]

    operations = [
        migrations.AlterField(
            model_name='authorizationapplication',
            name='programme',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='programs.programme', verbose_name='programme', help_text='The programme the provider applies to offer its support in.'),
        ),
    ]
