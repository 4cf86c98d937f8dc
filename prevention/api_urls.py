"""Version 1 of the provider and laboratory API."""

from django.urls import path

from apps.providers.api import WhoAmIView

app_name = "api-v1"
urlpatterns = [
    path("me/", WhoAmIView.as_view(), name="me"),
]
