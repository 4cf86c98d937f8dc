from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.registry"
    label = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from apps.registry import events  # noqa: F401  (the kinds of event it publishes)
