from django.urls import path

from apps.site import views

app_name = "site"
urlpatterns = [
    path("", views.StartView.as_view(), name="start"),
]
