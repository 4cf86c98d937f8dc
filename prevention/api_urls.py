"""Version 1 of the provider and laboratory API."""

from django.urls import path

from apps.api.views import (
    DashboardView,
    EventsView,
    LabResultsView,
    MeasurementUploadView,
    OverdueView,
    PrepatientDetailView,
    PrepatientListView,
    PrepatientMeasurementsView,
    PrepatientQuestionnaireResponsesView,
    ReferralResultView,
    WhoAmIView,
)
from apps.api.views_settlements import (
    DisputeListView,
    DisputeRaiseView,
    SettlementLinesView,
    SettlementListView,
)

app_name = "api-v1"
urlpatterns = [
    path("me/", WhoAmIView.as_view(), name="me"),
    # Providers
    path("prepatients/", PrepatientListView.as_view(), name="prepatients"),
    path("prepatients/<str:pseudonym>/", PrepatientDetailView.as_view(), name="prepatient"),
    path("prepatients/<str:pseudonym>/measurements/", PrepatientMeasurementsView.as_view(),
         name="prepatient-measurements"),
    path("prepatients/<str:pseudonym>/questionnaire-responses/",
         PrepatientQuestionnaireResponsesView.as_view(),
         name="prepatient-questionnaire-responses"),
    path("measurements/", MeasurementUploadView.as_view(), name="measurements"),
    path("events/", EventsView.as_view(), name="events"),
    path("overdue/", OverdueView.as_view(), name="overdue"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("settlements/", SettlementListView.as_view(), name="settlements"),
    path("settlements/<str:run_id>/lines/", SettlementLinesView.as_view(),
         name="settlement-lines"),
    path("settlements/disputes/", DisputeListView.as_view(), name="settlement-disputes"),
    path("settlements/<str:run_id>/lines/<str:pseudonym>/disputes/",
         DisputeRaiseView.as_view(), name="settlement-line-disputes"),
    # Laboratories
    path("lab/referral-results/", ReferralResultView.as_view(), name="lab-referral-results"),
    path("lab/results/", LabResultsView.as_view(), name="lab-results"),
]
