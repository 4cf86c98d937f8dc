from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The provider and laboratory API (v1): on top, it calls only services and selectors
    of the domain apps. It has no models."""

    name = "apps.api"
    label = "api"
    verbose_name = "Provider and laboratory API"
