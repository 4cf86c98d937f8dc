from django.apps import AppConfig


class AuditorConfig(AppConfig):
    """Commands for auditors that need nothing of the platform: no database, no secrets."""

    name = "apps.auditor"
    label = "auditor"
    verbose_name = "Auditor"
