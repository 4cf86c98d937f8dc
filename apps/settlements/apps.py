from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.settlements"
    label = "settlements"
    verbose_name = _("Settlements")

    def ready(self) -> None:
        from apps.settlements import events  # noqa: F401  (the kinds of event it publishes)
