"""The back-office for providers, laboratories and keys: pages, actions, personas."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.providers.models import (
    ApiCredential,
    ApplicationStatus,
    AuthorizationApplication,
    AuthorizationCheck,
    AuthorizationDecision,
    AuthorizationStatus,
    Lab,
    Provider,
)
from apps.providers.services import api_credential_issue, authorization_run_checks
from tests.factories import UserFactory
from tests.providers.conftest import clean_record
from tests.providers.factories import LabFactory, ProviderFactory, first_programme

pytestmark = pytest.mark.django_db


def staff_client(settings: Any, *codenames: str) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:providers_{name}", args=args)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["provider", "lab", "apicredential",
                                  "authorizationapplication", "authorizationdecision"])
def test_every_list_loads_for_a_caseworker(caseworker_client: Client, name: str) -> None:
    assert caseworker_client.get(url(f"{name}_changelist")).status_code == 200


def test_the_provider_page_shows_the_profile_history_and_actions(
    caseworker_client: Client, application: AuthorizationApplication, registers: Any,
) -> None:
    provider = application.provider
    registers(clean_record(provider.organisation_number))
    authorization_run_checks(application=application)
    page = caseworker_client.get(url("provider_change", provider.pk)).content.decode()
    assert url("provider_approve", provider.pk) in page
    assert url("provider_reject", provider.pk) in page
    assert url("provider_run_checks", provider.pk) in page
    assert url("provider_suspend", provider.pk) not in page  # pending: nothing to suspend
    assert "Skatteverket, F-skatt" in page  # the latest checks
    application_page = caseworker_client.get(
        url("authorizationapplication_change", application.pk)).content.decode()
    assert url("provider_run_checks", provider.pk) in application_page


def test_an_authorized_provider_offers_suspend_and_revoke(caseworker_client: Client) -> None:
    provider = ProviderFactory()
    page = caseworker_client.get(url("provider_change", provider.pk)).content.decode()
    assert url("provider_suspend", provider.pk) in page
    assert url("provider_revoke", provider.pk) in page
    assert url("provider_reinstate", provider.pk) not in page
    assert url("provider_apply", provider.pk) not in page


def test_the_profile_is_edited_with_checkboxes_and_validated(caseworker_client: Client) -> None:
    provider = ProviderFactory(name="Hälsa AB")
    data = {
        "name": "Hälsa AB", "email": "info@halsa.example", "phone": "", "website": "",
        "offer_sv": "Coachning", "offer_en": "Coaching", "delivery_mode": "both",
        "coach_type": "human", "languages": "sv, EN, ar", "accessibility": ["read_aloud"],
        "regions": ["Stockholm", "Uppsala"], "capacity": "120",
        "subcontractors": '[{"name": "Gym AB", "organisation_number": "556677-0052"}]',
        "owners": '[{"name": "Erik Exempelsson", "birth_year": 1968}]',
        "financier_name": "Riskkapital AB", "financier_organisation_number": "556677-0060",
        **{f"{prefix}-{key}": value
           for prefix in ("offers", "authorization_applications", "authorization_decisions")
           for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))},
    }
    response = caseworker_client.post(url("provider_change", provider.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider.refresh_from_db()
    assert provider.languages == ["sv", "en", "ar"]
    assert provider.subcontractors == [{"name": "Gym AB", "organisation_number": "5566770052"}]
    assert provider.financier_organisation_number == "5566770060"
    assert provider.authorization_status == AuthorizationStatus.AUTHORIZED  # not editable
    bad = {**data, "subcontractors": '[{"name": "Gym AB", "organisation_number": "1"}]',
           "capacity": "20"}
    response = caseworker_client.post(url("provider_change", provider.pk), bad)
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"subcontractors", "capacity"}


# --- Decisions ------------------------------------------------------------------------


def test_a_decision_needs_a_reason_and_calls_the_service(caseworker_client: Client) -> None:
    provider = ProviderFactory()
    blank = caseworker_client.post(url("provider_suspend", provider.pk), {"reason": "  "})
    assert blank.status_code == 200
    provider.refresh_from_db()
    assert provider.authorization_status == AuthorizationStatus.AUTHORIZED
    response = caseworker_client.post(url("provider_suspend", provider.pk),
                                      {"reason": "Tax debts reported."})
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.authorization_status == AuthorizationStatus.SUSPENDED
    decision = AuthorizationDecision.objects.get()
    assert (decision.decision, decision.reason, decision.actor.username) == (
        "suspend", "Tax debts reported.", "caseworker-a")


def test_a_refused_decision_shows_the_services_message(caseworker_client: Client) -> None:
    provider = ProviderFactory()
    response = caseworker_client.post(url("provider_reinstate", provider.pk),
                                      {"reason": "Try."}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not AuthorizationDecision.objects.exists()


def test_registering_an_application_then_checks_then_approval(
    caseworker_client: Client, registers: Any,
) -> None:
    provider: Any = ProviderFactory(authorization_status=AuthorizationStatus.PENDING,
                                    programmes=[])
    registers(clean_record(provider.organisation_number))
    declarations = {name: "on" for name in (
        "targets_programme_outcome", "individualised_support", "voluntary_participation",
        "serves_at_least_50", "will_not_refuse", "accepts_switching_rules",
        "accepts_payment_model", "cost_coverage_programme_months")}
    programme = first_programme()
    response = caseworker_client.post(url("provider_apply", provider.pk),
                                      {**declarations, "cost_coverage_by": "own_capital",
                                       "programme": programme.pk})
    assert response.status_code == 302
    application = AuthorizationApplication.objects.get(provider=provider)
    assert application.unmet_declarations() == []
    assert application.programme == programme
    assert caseworker_client.get(url("provider_run_checks", provider.pk)).status_code == 200
    assert caseworker_client.post(url("provider_run_checks", provider.pk)).status_code == 302
    assert AuthorizationCheck.objects.filter(application=application).exists()
    approve_page = caseworker_client.get(url("provider_approve", provider.pk)).content.decode()
    assert "Skatteverket, F-skatt" in approve_page
    response = caseworker_client.post(url("provider_approve", provider.pk),
                                      {"reason": "All criteria met."})
    assert response.status_code == 302
    provider.refresh_from_db()
    application.refresh_from_db()
    assert provider.is_authorized and application.status == ApplicationStatus.APPROVED
    # Approved for its programme: the provider offers its support there, and the page
    # lists it.
    assert list(provider.offers.values_list("programme", flat=True)) == [programme.pk]
    page = caseworker_client.get(url("provider_change", provider.pk)).content.decode()
    assert 'id="offers-group"' in page and programme.name in page


@pytest.mark.parametrize("action", ["apply", "run_checks", "approve", "reject", "suspend",
                                    "reinstate", "revoke"])
def test_staff_without_the_decide_permission_are_refused(settings: Any, action: str) -> None:
    provider = ProviderFactory()
    client = staff_client(settings, "view_provider", "change_provider")
    assert client.get(url(f"provider_{action}", provider.pk)).status_code == 403
    assert client.post(url(f"provider_{action}", provider.pk),
                       {"reason": "x"}).status_code == 403
    page = client.get(url("provider_change", provider.pk)).content.decode()
    assert url("provider_suspend", provider.pk) not in page
    provider.refresh_from_db()
    assert provider.is_authorized


def test_anonymous_visitors_are_sent_to_the_login(client: Client) -> None:
    provider = ProviderFactory()
    response = client.get(url("provider_suspend", provider.pk))
    assert response.status_code == 302 and "login" in response["Location"]


def test_history_cannot_be_edited_in_the_admin(caseworker_client: Client) -> None:
    assert caseworker_client.get(url("authorizationdecision_add")).status_code == 403
    assert caseworker_client.get(url("authorizationapplication_add")).status_code == 403


# --- Laboratories and keys ----------------------------------------------------------------


def test_a_lab_is_added_in_the_admin(caseworker_client: Client) -> None:
    response = caseworker_client.post(url("lab_add"), {
        "name": "Labbet AB", "organisation_number": "5566770086", "email": "lab@example.org",
        "is_authorized": "on"})
    assert response.status_code == 302
    assert Lab.objects.get().name == "Labbet AB"


def test_a_key_is_issued_for_a_lab_with_scopes_and_shown_once(caseworker_client: Client) -> None:
    lab = LabFactory()
    response = caseworker_client.post(url("apicredential_add"), {
        "lab": lab.pk, "label": "LIS", "scopes": ["lab:results"]}, follow=True)
    credential = ApiCredential.objects.get()
    shown = [m for m in messages_of(response) if f"{credential.prefix}." in m]
    assert len(shown) == 1
    key = shown[0].rsplit(" ", 1)[-1]
    assert key.startswith(f"{credential.prefix}.")
    assert (credential.lab, credential.provider, credential.scopes) == (lab, None,
                                                                        ["lab:results"])
    assert key.split(".")[1] not in credential.secret_hash
    page = caseworker_client.get(url("apicredential_change", credential.pk)).content.decode()
    assert key.split(".")[1] not in page


@pytest.mark.parametrize("data,field", [
    ({"label": "x", "scopes": ["settlement:read"]}, "provider"),
    ({"label": "x", "scopes": ["settlement:read"], "both": True}, "provider"),
    ({"label": "x", "scopes": ["lab:results"], "provider_only": True}, "scopes"),
])
def test_a_key_must_name_one_organisation_and_its_kinds_scopes(
    caseworker_client: Client, data: dict, field: str,
) -> None:
    provider, lab = ProviderFactory(), LabFactory()
    post = {"label": data["label"], "scopes": data["scopes"]}
    if data.get("both"):
        post.update(provider=provider.pk, lab=lab.pk)
    if data.get("provider_only"):
        post.update(provider=provider.pk)
    response = caseworker_client.post(url("apicredential_add"), post)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ApiCredential.objects.exists()


def test_keys_are_revoked_from_the_list(caseworker_client: Client) -> None:
    credential, _key = api_credential_issue(provider=ProviderFactory(), label="old")
    response = caseworker_client.post(url("apicredential_changelist"), {
        "action": "revoke", "_selected_action": [credential.pk]})
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.revoked_at is not None


def test_provider_model_has_the_decide_permission() -> None:
    assert Permission.objects.filter(codename="decide_authorization",
                                     content_type__app_label="providers").exists()
    assert Provider._meta.permissions
