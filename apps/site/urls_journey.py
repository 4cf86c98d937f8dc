"""The way into the programme, under ``join/`` (namespace ``site``)."""

from django.urls import path

from apps.site import views_journey as views

urlpatterns = [
    path("consent/", views.ConsentView.as_view(), name="consent"),
    path("personnummer/", views.IdentityView.as_view(), name="identity"),
    path("personnummer/done/", views.IdentityDoneView.as_view(), name="identity_done"),
    path("questionnaire/", views.QuestionnaireStartView.as_view(), name="questionnaire"),
    path("questionnaire/<int:part>/", views.QuestionnairePartView.as_view(),
         name="questionnaire_part"),
    path("answers/", views.AnswersView.as_view(), name="answers"),
    path("programmes/", views.ProgrammesView.as_view(), name="programmes"),
    path("blood-test/", views.ReferralView.as_view(), name="referral"),
    path("result/", views.ResultView.as_view(), name="result"),
]
