from django.urls import include, path

from apps.site import views

app_name = "site"
urlpatterns = [
    path("", views.StartView.as_view(), name="start"),
    path("about/", views.AboutView.as_view(), name="about"),
    path("continue/", views.NextStepView.as_view(), name="next"),
    # The way in: consent, personnummer, questionnaire, blood test, result.
    path("join/", include("apps.site.urls_journey")),
    # The marketplace of providers and the person's own page.
    path("", include("apps.site.urls_marketplace")),
]
