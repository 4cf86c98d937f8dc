"""The back-office at national scale: the access log's period filter, and the staff
among every prepatient's account in username order."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("core", "0004_organisation_event_kinds_registered_by_their_apps"),
    ]
    operations = [
        migrations.AddIndex(
            model_name="accesslogentry",
            index=models.Index(fields=["at"], name="accesslog_at")),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(condition=models.Q(("is_staff", True)), fields=["username"],
                               name="user_staff")),
    ]
