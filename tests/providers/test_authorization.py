from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from apps.core.errors import InvalidInput, ReasonRequired
from apps.providers.errors import (
    AlreadyAuthorized,
    ApplicationAlreadyPending,
    ApplicationNotFound,
    ApplicationNotPending,
    ChecksFailed,
    ChecksNotRun,
    DecisionNotAllowed,
    DeclarationsIncomplete,
)
from apps.providers.models import (
    ApplicationStatus,
    AuthorizationCheck,
    AuthorizationDecision,
    AuthorizationStatus,
    CheckKind,
    CostCoverage,
    DecisionKind,
)
from apps.providers.services import (
    Declarations,
    authorization_decide,
    authorization_run_checks,
)
from tests.providers.conftest import clean_record
from tests.providers.factories import ProviderFactory, apply_for_first

pytestmark = pytest.mark.django_db

REASON = "All criteria met; checks reviewed."


def checks_pass(registers, provider, **extra: list[str]) -> None:
    rows = clean_record(provider.organisation_number)
    for name, lines in extra.items():
        rows[f"{name}.csv"] = [*rows.get(f"{name}.csv", []), *lines]
    registers(rows)


# --- Applying -----------------------------------------------------------------------


def test_an_application_records_the_declarations_and_makes_the_provider_pending(
    decider,
) -> None:
    provider = ProviderFactory(authorization_status=AuthorizationStatus.REJECTED)
    application = apply_for_first(provider=provider, declarations=Declarations.all_made(),
                                      submitted_by=decider, note=" by phone ")
    provider.refresh_from_db()
    assert provider.authorization_status == AuthorizationStatus.PENDING
    assert application.status == ApplicationStatus.PENDING
    assert application.unmet_declarations() == []
    assert (application.submitted_by, application.note) == (decider, "by phone")


def test_only_one_application_may_be_pending(application) -> None:
    with pytest.raises(ApplicationAlreadyPending):
        apply_for_first(provider=application.provider, declarations=Declarations())


@pytest.mark.parametrize("status", [AuthorizationStatus.AUTHORIZED,
                                    AuthorizationStatus.SUSPENDED])
def test_an_authorized_or_suspended_provider_does_not_apply(status: str) -> None:
    with pytest.raises(AlreadyAuthorized) as refused:
        apply_for_first(provider=ProviderFactory(authorization_status=status),
                            declarations=Declarations.all_made())
    assert refused.value.code == "already_authorized"


def test_coverage_by_a_financier_needs_the_financier_on_the_provider(applicant) -> None:
    by_financier = Declarations.all_made(cost_coverage_by=CostCoverage.FINANCIER)
    with pytest.raises(InvalidInput) as refused:
        apply_for_first(provider=applicant, declarations=by_financier)
    assert "cost_coverage_by" in refused.value.fields
    applicant.financier_name = "Riskkapital AB"
    applicant.financier_organisation_number = "5566770060"
    applicant.save()
    application = apply_for_first(provider=applicant, declarations=by_financier)
    assert application.unmet_declarations() == []
    applicant.financier_name = applicant.financier_organisation_number = ""
    applicant.save()
    application.refresh_from_db()
    assert application.unmet_declarations() == ["cost_coverage_by"]


def test_declared_coverage_must_say_by_what(applicant) -> None:
    with pytest.raises(InvalidInput) as refused:
        apply_for_first(provider=applicant, declarations=dataclasses.replace(
            Declarations.all_made(), cost_coverage_by=""))
    assert "cost_coverage_by" in refused.value.fields


# --- Automated checks ---------------------------------------------------------------


def test_the_checks_cover_every_ground_and_every_party(registers, application) -> None:
    provider = application.provider
    provider.subcontractors = [{"name": "Gym AB", "organisation_number": "5566770052"}]
    provider.owners = [{"name": "Holding AB", "organisation_number": "5566770060"},
                       {"name": "Erik Exempelsson", "birth_year": 1968}]
    provider.save()
    checks_pass(registers, provider, convictions=[
        "5566770052,,,yes,Bidragsbrott 2024", ",Erik Exempelsson,1968,no,"])
    with translation.override("en"):
        rows = authorization_run_checks(application=application)
    by_kind = {(row.kind, row.subject): row.result for row in rows}
    assert {row.kind for row in rows} == set(CheckKind.values)
    convictions = {subject: result for (kind, subject), result in by_kind.items()
                   if kind == CheckKind.CONVICTIONS}
    assert convictions == {
        f"provider: {provider.name} ({provider.organisation_number})": "pass",
        "subcontractor: Gym AB (5566770052)": "fail",
        "owner: Holding AB (5566770060)": "not_found",
        "owner: Erik Exempelsson (1968)": "pass",
    }
    assert all(row.run == 1 and row.source for row in rows)


def test_each_run_is_kept_and_approval_looks_at_the_latest(registers, application,
                                                           decider) -> None:
    number = application.provider.organisation_number
    checks_pass(registers, application.provider)
    registers({**clean_record(number), "f_tax.csv": [f"{number},no"]})
    authorization_run_checks(application=application)
    with pytest.raises(ChecksFailed):
        authorization_decide(provider=application.provider, decision=DecisionKind.APPROVE,
                             reason=REASON, actor=decider)
    registers(clean_record(number))
    second = authorization_run_checks(application=application)
    assert {row.run for row in second} == {2}
    assert AuthorizationCheck.objects.filter(application=application).count() == 2 * len(second)
    authorization_decide(provider=application.provider, decision=DecisionKind.APPROVE,
                         reason=REASON, actor=decider)


def test_checks_run_only_on_a_pending_application(registers, application, decider) -> None:
    checks_pass(registers, application.provider)
    authorization_decide(provider=application.provider, decision=DecisionKind.REJECT,
                         reason="Incomplete.", actor=decider)
    with pytest.raises(ApplicationNotPending):
        authorization_run_checks(application=application)


def test_check_rows_are_append_only(registers, application) -> None:
    checks_pass(registers, application.provider)
    row = authorization_run_checks(application=application)[0]
    row.result = "pass"
    with pytest.raises(ValueError, match="append-only"):
        row.save()


# --- Approval ---------------------------------------------------------------------------


def test_approval_authorizes_the_provider_and_records_the_decision(
    registers, application, decider,
) -> None:
    checks_pass(registers, application.provider)
    authorization_run_checks(application=application)
    decision = authorization_decide(provider=application.provider,
                                    decision=DecisionKind.APPROVE, reason=f"  {REASON} ",
                                    actor=decider)
    application.refresh_from_db()
    application.provider.refresh_from_db()
    assert application.provider.authorization_status == AuthorizationStatus.AUTHORIZED
    assert application.status == ApplicationStatus.APPROVED
    assert (decision.application, decision.from_status, decision.to_status, decision.reason,
            decision.actor) == (application, "pending", "authorized", REASON, decider)


def test_not_found_does_not_block_approval(registers, application, decider) -> None:
    registers({})  # absent from every register: the caseworker checked by hand
    rows = authorization_run_checks(application=application)
    assert {row.result for row in rows} == {"not_found"}
    authorization_decide(provider=application.provider, decision=DecisionKind.APPROVE,
                         reason="Checked by hand with each authority.", actor=decider)
    application.provider.refresh_from_db()
    assert application.provider.is_authorized


def test_approval_is_refused_with_a_failed_check(registers, application, decider) -> None:
    number = application.provider.organisation_number
    registers({**clean_record(number), "tax_debts.csv": [f"{number},1200"]})
    authorization_run_checks(application=application)
    with pytest.raises(ChecksFailed) as refused:
        authorization_decide(provider=application.provider, decision=DecisionKind.APPROVE,
                             reason=REASON, actor=decider)
    assert refused.value.code == "checks_failed"
    assert "1200" in refused.value.fields["checks"][0]
    application.refresh_from_db()
    application.provider.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING
    assert application.provider.authorization_status == AuthorizationStatus.PENDING
    assert not AuthorizationDecision.objects.exists()


def test_a_caseworker_may_still_reject_after_passing_checks(registers, application,
                                                            decider) -> None:
    checks_pass(registers, application.provider)
    authorization_run_checks(application=application)
    authorization_decide(provider=application.provider, decision=DecisionKind.REJECT,
                         reason="The offer does not target the programme's group.",
                         actor=decider)
    application.provider.refresh_from_db()
    assert application.provider.authorization_status == AuthorizationStatus.REJECTED


@pytest.mark.parametrize("change,unmet", [
    ({"will_not_refuse": False}, "will_not_refuse"),
    ({"targets_programme_outcome": False}, "targets_programme_outcome"),
    ({"cost_coverage_programme_months": False, "cost_coverage_by": ""},
     "cost_coverage_programme_months"),
    ({"includes_medical_device": True}, "medical_device_ce_marked"),
])
def test_approval_is_refused_when_a_declaration_is_not_made(
    registers, applicant, decider, change: dict, unmet: str,
) -> None:
    application = apply_for_first(provider=applicant, declarations=dataclasses.replace(
        Declarations.all_made(), **change))
    checks_pass(registers, applicant)
    authorization_run_checks(application=application)
    with pytest.raises(DeclarationsIncomplete) as refused:
        authorization_decide(provider=applicant, decision=DecisionKind.APPROVE, reason=REASON,
                             actor=decider)
    assert list(refused.value.fields) == [unmet]


def test_a_ce_marked_medical_device_is_accepted(registers, applicant, decider) -> None:
    application = apply_for_first(provider=applicant, declarations=dataclasses.replace(
        Declarations.all_made(), includes_medical_device=True, medical_device_ce_marked=True))
    checks_pass(registers, applicant)
    authorization_run_checks(application=application)
    authorization_decide(provider=applicant, decision=DecisionKind.APPROVE, reason=REASON,
                         actor=decider)


def test_approval_needs_the_checks_to_have_run(application, decider) -> None:
    with pytest.raises(ChecksNotRun):
        authorization_decide(provider=application.provider, decision=DecisionKind.APPROVE,
                             reason=REASON, actor=decider)


def test_approve_and_reject_need_a_pending_application(decider) -> None:
    provider = ProviderFactory(authorization_status=AuthorizationStatus.PENDING)
    for decision in (DecisionKind.APPROVE, DecisionKind.REJECT):
        with pytest.raises(ApplicationNotPending):
            authorization_decide(provider=provider, decision=decision, reason=REASON,
                                 actor=decider)


def test_an_application_of_another_provider_is_not_found(application, decider) -> None:
    other = ProviderFactory(authorization_status=AuthorizationStatus.PENDING)
    with pytest.raises(ApplicationNotFound):
        authorization_decide(provider=other, decision=DecisionKind.REJECT, reason=REASON,
                             actor=decider, application=application)


# --- Transitions --------------------------------------------------------------------


ALLOWED = {
    (DecisionKind.SUSPEND, AuthorizationStatus.AUTHORIZED): AuthorizationStatus.SUSPENDED,
    (DecisionKind.REINSTATE, AuthorizationStatus.SUSPENDED): AuthorizationStatus.AUTHORIZED,
    (DecisionKind.REVOKE, AuthorizationStatus.AUTHORIZED): AuthorizationStatus.REVOKED,
    (DecisionKind.REVOKE, AuthorizationStatus.SUSPENDED): AuthorizationStatus.REVOKED,
}
STATUS_DECISIONS = (DecisionKind.SUSPEND, DecisionKind.REINSTATE, DecisionKind.REVOKE)


@pytest.mark.parametrize("decision", STATUS_DECISIONS)
@pytest.mark.parametrize("status", AuthorizationStatus.values)
def test_status_decisions_apply_only_from_their_statuses(decider, decision: str,
                                                         status: str) -> None:
    provider = ProviderFactory(authorization_status=status)
    expected = ALLOWED.get((decision, status))
    if expected is None:
        with pytest.raises(DecisionNotAllowed) as refused:
            authorization_decide(provider=provider, decision=decision, reason=REASON,
                                 actor=decider)
        assert refused.value.code == f"cannot_{decision}"
        provider.refresh_from_db()
        assert provider.authorization_status == status
        assert not AuthorizationDecision.objects.exists()
    else:
        event = authorization_decide(provider=provider, decision=decision, reason=REASON,
                                     actor=decider)
        provider.refresh_from_db()
        assert provider.authorization_status == expected
        assert (event.from_status, event.to_status) == (status, expected)


@pytest.mark.parametrize("decision", [DecisionKind.APPROVE, DecisionKind.REJECT])
@pytest.mark.parametrize("status", [AuthorizationStatus.AUTHORIZED,
                                    AuthorizationStatus.SUSPENDED,
                                    AuthorizationStatus.REVOKED,
                                    AuthorizationStatus.REJECTED])
def test_approve_and_reject_are_refused_unless_the_provider_is_pending(
    decider, decision: str, status: str,
) -> None:
    provider = ProviderFactory(authorization_status=status)
    with pytest.raises(DecisionNotAllowed):
        authorization_decide(provider=provider, decision=decision, reason=REASON, actor=decider)


def test_a_revoked_provider_may_apply_again(registers, decider) -> None:
    provider = ProviderFactory()
    authorization_decide(provider=provider, decision=DecisionKind.REVOKE, reason="Tax debts.",
                         actor=decider)
    application = apply_for_first(provider=provider, declarations=Declarations.all_made())
    checks_pass(registers, provider)
    authorization_run_checks(application=application)
    authorization_decide(provider=provider, decision=DecisionKind.APPROVE, reason="Debts paid.",
                         actor=decider)
    provider.refresh_from_db()
    assert provider.is_authorized
    assert list(provider.authorization_decisions.values_list("decision", flat=True)) == [
        "revoke", "approve"]


# --- Reasons and the record ---------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_every_decision_needs_a_reason(decider, reason: str) -> None:
    provider = ProviderFactory()
    with pytest.raises(ReasonRequired) as refused:
        authorization_decide(provider=provider, decision=DecisionKind.SUSPEND, reason=reason,
                             actor=decider)
    assert refused.value.code == "reason_required"
    assert "reason" in refused.value.fields
    provider.refresh_from_db()
    assert provider.is_authorized


def test_a_decision_needs_a_signed_in_actor() -> None:
    with pytest.raises(InvalidInput) as refused:
        authorization_decide(provider=ProviderFactory(), decision=DecisionKind.SUSPEND,
                             reason=REASON, actor=None)
    assert refused.value.code == "actor_required"


def test_decisions_are_append_only_and_the_database_requires_a_reason(decider) -> None:
    provider: Any = ProviderFactory()
    event = authorization_decide(provider=provider, decision=DecisionKind.SUSPEND,
                                 reason=REASON, actor=decider)
    event.reason = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthorizationDecision.objects.create(
            provider=provider, decision="suspend", from_status="authorized",
            to_status="suspended", reason="", actor=decider)


def test_the_database_allows_one_pending_application_per_provider(application) -> None:
    from apps.providers.models import AuthorizationApplication

    with pytest.raises(IntegrityError,  # PostgreSQL names the constraint, SQLite its column
                       match=r"authorization_one_pending_application|\.provider_id"), \
            transaction.atomic():
        AuthorizationApplication.objects.create(provider=application.provider,
                                                programme=application.programme)


# --- Per programme ----------------------------------------------------------------------


def test_an_approved_application_offers_its_programme_and_a_further_one_is_applied_for(
    registers, decider,
) -> None:
    from apps.programs.models import Programme
    from apps.providers.selectors import programmes_not_offered
    from apps.providers.services import authorization_apply
    from tests.factories import programme_publish, shipped_definition

    first = Programme.objects.order_by("start_date", "pk").first()
    second = programme_publish(shipped_definition("loneliness-2027"))
    provider = ProviderFactory(authorization_status=AuthorizationStatus.PENDING, programmes=[])
    application = authorization_apply(provider=provider, programme=first,
                                      declarations=Declarations.all_made())
    checks_pass(registers, provider)
    authorization_run_checks(application=application)
    authorization_decide(provider=provider, decision=DecisionKind.APPROVE, reason="Met.",
                         actor=decider)
    assert list(provider.offers.values_list("programme", flat=True)) == [first.pk]
    assert programmes_not_offered(provider) == [second]

    # Authorized, it applies for the second programme with that programme's declarations;
    # it stays authorized (for the first) while the application is decided.
    with pytest.raises(AlreadyAuthorized):
        authorization_apply(provider=provider, programme=first,
                            declarations=Declarations.all_made())
    further = authorization_apply(provider=provider, programme=second,
                                  declarations=Declarations.all_made())
    provider.refresh_from_db()
    assert provider.is_authorized and further.programme == second
    authorization_decide(provider=provider, decision=DecisionKind.REJECT,
                         reason="Not for older people.", actor=decider)
    provider.refresh_from_db()
    assert provider.is_authorized  # refusing a further programme leaves the first as it was
    assert list(provider.offers.values_list("programme", flat=True)) == [first.pk]

    again = authorization_apply(provider=provider, programme=second,
                                declarations=Declarations.all_made())
    authorization_run_checks(application=again)
    authorization_decide(provider=provider, decision=DecisionKind.APPROVE, reason="Met.",
                         actor=decider)
    provider.refresh_from_db()
    assert provider.is_authorized
    assert set(provider.offers.values_list("programme", flat=True)) == {first.pk, second.pk}
    assert programmes_not_offered(provider) == []
