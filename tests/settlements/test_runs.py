from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from apps.core import clock
from apps.registry.services import prepatient_enroll
from apps.settlements import selectors
from apps.settlements.errors import (
    BudgetExceeded,
    FourEyesRequired,
    NothingToSettle,
    RunNotApprovable,
    RunNotExportable,
)
from apps.settlements.export import run_input_lines
from apps.settlements.models import (
    PrepatientLine,
    ProviderLine,
    ProviderPayment,
    RunKind,
    RunStatus,
    SettlementRun,
)
from apps.settlements.services import (
    payout_csv,
    settlement_approve,
    settlement_compute,
    settlement_prepare,
)
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 12, 1)


@pytest.fixture
def open_payments(programme):
    """The payment period opened for tests that approve on their own dates."""
    programme.payments_from = date(2026, 1, 1)
    programme.save()
    return programme


@pytest.fixture
def computed(make_candidate, open_payments):
    programme = open_payments
    provider = ProviderFactory()
    with clock.travel_to(date(2026, 8, 3)):
        prepatient_enroll(prepatient=make_candidate(), provider=provider)
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.FINAL,
                                 prepared_by=UserFactory(username="preparer"))
        return settlement_compute(run_id=run.pk)


def test_the_person_who_prepared_a_run_cannot_approve_it(computed) -> None:
    with pytest.raises(FourEyesRequired):
        settlement_approve(run=computed, approver=computed.prepared_by)
    computed.refresh_from_db()
    assert computed.status == RunStatus.COMPUTED


def test_the_database_refuses_an_approver_who_prepared_the_run(computed) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementRun.objects.filter(pk=computed.pk).update(
            approved_by=computed.prepared_by, approved_at=clock.now())


def test_a_second_caseworker_approves_and_the_run_is_then_immutable(computed) -> None:
    approved = settlement_approve(run=computed, approver=UserFactory(username="second"))
    assert approved.status == RunStatus.APPROVED
    line = PrepatientLine.objects.get(run=approved)
    line.result = "success"
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderLine.objects.filter(run=approved).update(amount=1_000_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrepatientLine.objects.filter(run=approved).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementRun.objects.filter(pk=approved.pk).update(note="changed")
    with pytest.raises(IntegrityError), transaction.atomic():
        PrepatientLine.objects.create(run=approved, prepatient=line.prepatient, pseudonym="x",
                                      result="success", reason="target_met",
                                      end_date=line.end_date)
    payment = ProviderPayment.objects.get(run=approved)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderPayment.objects.filter(pk=payment.pk).update(amount=1_000_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderPayment.objects.filter(pk=payment.pk).delete()
    assert settlement_compute(run_id=approved.pk).status == RunStatus.APPROVED


def test_corrections_are_adjustment_runs_linked_to_the_approved_run(computed,
                                                                    programme) -> None:
    approved = settlement_approve(run=computed, approver=UserFactory(username="second"))
    with clock.travel_to(AS_OF):
        adjustment = settlement_prepare(programme=programme, as_of=AS_OF,
                                        kind=RunKind.ADJUSTMENT, corrects=approved,
                                        prepared_by=UserFactory(username="third"))
    assert adjustment.corrects == approved
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementRun.objects.create(programme=programme, kind=RunKind.ADJUSTMENT, as_of=AS_OF,
                                     prepared_by=UserFactory(username="fourth"))


def test_provisional_runs_are_forecasts_and_never_approved(computed, programme) -> None:
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory(username="p"))
        run = settlement_compute(run_id=run.pk)
    with pytest.raises(RunNotApprovable):
        settlement_approve(run=run, approver=UserFactory(username="q"))


def test_a_final_run_pays_no_provider_with_prepatients_awaiting_evaluation(
    make_candidate, open_payments,
) -> None:
    programme = open_payments
    provider = ProviderFactory()
    with clock.travel_to(date(2026, 8, 3)):
        prepatient_enroll(prepatient=make_candidate(), provider=provider)
    from apps.measurements.models import FollowUpDue

    with clock.travel_to(date(2026, 8, 3)):
        FollowUpDue.objects.filter(index=0).update(completed_at=clock.now())
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.FINAL,
                                 prepared_by=UserFactory(username="p"))
        run = settlement_compute(run_id=run.pk)
    assert PrepatientLine.objects.get(run=run).result == "pending"
    with pytest.raises(NothingToSettle):
        settlement_approve(run=run, approver=UserFactory(username="q"))


def test_approval_warns_before_the_budget_would_be_exceeded(computed, programme) -> None:
    programme.budget_authorization = 0
    programme.save()
    ProviderLine.objects.filter(run=computed).update(amount=47000)
    computed.refresh_from_db()
    with pytest.raises(BudgetExceeded):
        settlement_approve(run=computed, approver=UserFactory(username="second"))
    approved = settlement_approve(run=computed, approver=UserFactory(username="second"),
                                  accept_budget_overrun=True)
    assert approved.status == RunStatus.APPROVED


def test_the_payout_file_has_a_row_per_provider_and_a_checksum(computed) -> None:
    with pytest.raises(RunNotApprovable):
        payout_csv(computed)
    approved = settlement_approve(run=computed, approver=UserFactory(username="second"))
    text = payout_csv(approved)
    rows = text.splitlines()
    assert rows[0] == ("provider,organisation_number,kind,amount,currency,run_reference,"
                       "corrects_run_reference")
    assert rows[1].endswith(f",final,0.00,SEK,{approved.reference},")
    import hashlib

    body = "\n".join(rows[:-1]) + "\n"
    assert rows[-1] == f"# sha256 {hashlib.sha256(body.encode()).hexdigest()}"


def test_the_admin_cannot_change_an_approved_line_or_approve_ones_own_run(
    computed, client, settings,
) -> None:
    from django.contrib.auth.models import Permission

    settings.STAFF_MFA_REQUIRED = False
    preparer = computed.prepared_by
    preparer.is_staff = True
    preparer.save()
    preparer.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="settlements"))
    client.force_login(preparer)
    response = client.post(f"/admin/settlements/settlementrun/{computed.pk}/approve/")
    assert response.status_code == 302
    computed.refresh_from_db()
    assert computed.status == RunStatus.COMPUTED
    approved = settlement_approve(run=computed, approver=UserFactory(username="second"))
    line = PrepatientLine.objects.get(run=approved)
    before = (line.result, line.reason)
    change = client.post(f"/admin/settlements/prepatientline/{line.pk}/change/",
                         {"result": "success", "reason": "target_met"})
    assert change.status_code == 403
    line.refresh_from_db()
    assert (line.result, line.reason) == before
    assert client.get(f"/admin/settlements/settlementrun/{approved.pk}/payout.csv"
                      ).status_code == 200


@pytest.fixture
def settlement_viewer(client, settings):
    from django.contrib.auth.models import Permission

    settings.STAFF_MFA_REQUIRED = False
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="settlements"))
    client.force_login(viewer)
    return client


def test_a_printable_report_per_provider_explains_every_line(computed, programme,
                                                             settlement_viewer) -> None:
    from apps.core.models import AccessLogEntry
    from apps.measurements.models import FollowUpDue

    with clock.travel_to(date(2026, 8, 3)):
        FollowUpDue.objects.filter(index=0).update(completed_at=clock.now())
    with clock.travel_to(AS_OF):  # a new run sees the baseline: attributed, pending
        computed = settlement_compute(run_id=settlement_prepare(
            programme=programme, as_of=AS_OF, kind=RunKind.PROVISIONAL,
            prepared_by=UserFactory(username="again")).pk)
    line = ProviderLine.objects.get(run=computed)
    response = settlement_viewer.get(
        f"/admin/settlements/settlementrun/{computed.pk}/report/{line.provider_id}/",
        HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    prepatient_line = PrepatientLine.objects.get(run=computed)
    content = response.content.decode()
    assert prepatient_line.pseudonym in content and prepatient_line.reason in content
    assert "Ännu inte utvärderad: utfallsfönstret slutar den 2028-09-02" in content
    assert "@media print" in content
    assert AccessLogEntry.objects.filter(what="settlement report").count() == 1


def test_the_report_is_refused_without_settlement_permissions(computed, client,
                                                              settings) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(UserFactory(username="staff-no-perms", is_staff=True))
    line = ProviderLine.objects.get(run=computed)
    response = client.get(
        f"/admin/settlements/settlementrun/{computed.pk}/report/{line.provider_id}/")
    assert response.status_code == 403


def test_the_budget_overview_shows_committed_and_provisional_amounts(computed, programme,
                                                                     settlement_viewer) -> None:
    from decimal import Decimal

    from apps.settlements.services import budget_overview

    ProviderLine.objects.filter(run=computed).update(amount=Decimal("94000.00"))
    settlement_approve(run=SettlementRun.objects.get(pk=computed.pk),
                       approver=UserFactory(username="second"))
    with clock.travel_to(AS_OF):
        provisional = settlement_prepare(programme=programme, as_of=AS_OF,
                                         kind=RunKind.PROVISIONAL,
                                         prepared_by=UserFactory(username="p"))
        settlement_compute(run_id=provisional.pk)
    SettlementRun.objects.filter(pk=provisional.pk).update(total_amount=Decimal("47000.00"))
    budget = budget_overview(programme)
    assert budget["committed"] == Decimal("94000.00")
    assert budget["provisional_exposure"] == Decimal("47000.00")
    assert budget["remaining_after_commitments"] == Decimal("999906000.00")
    assert budget["evaluator_share"] == Decimal("13000000.00")
    page = settlement_viewer.get("/admin/settlements/settlementrun/")
    assert page.status_code == 200
    assert "999906000" in page.content.decode().replace("\xa0", "").replace(" ", "")


def test_lines_refer_only_to_rows_that_exist_and_keep_them(computed) -> None:
    """References are checked per statement (not per row) and the rows they name are kept."""
    line = PrepatientLine.objects.get(run=computed)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrepatientLine.objects.create(run=computed, prepatient_id=10**12, pseudonym="x",
                                      result="failure", reason="dropped_out",
                                      end_date=line.end_date)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrepatientLine.objects.create(run_id=10**12, prepatient=line.prepatient,
                                      pseudonym="y", result="failure", reason="dropped_out",
                                      end_date=line.end_date)
    from django.db import connection

    for table, pk in (("registry_prepatient", line.prepatient_id),
                      ("settlements_settlementrun", computed.pk)):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608
    assert PrepatientLine.objects.filter(pk=line.pk).exists()


# --- The back-office's readers and refusals ------------------------------------------------


def test_the_report_of_a_provider_without_a_line_or_of_no_run_is_not_found(
    computed, settlement_viewer,
) -> None:
    other = ProviderFactory()
    assert settlement_viewer.get(
        f"/admin/settlements/settlementrun/{computed.pk}/report/{other.pk}/").status_code == 404
    line = ProviderLine.objects.get(run=computed)
    assert settlement_viewer.get(
        f"/admin/settlements/settlementrun/999999/report/{line.provider_id}/"
    ).status_code == 404


def test_the_auditors_file_of_a_run_in_an_earlier_format_is_refused_with_the_reason(
    computed, settlement_viewer, settings,
) -> None:
    settings.LANGUAGE_CODE = "en"
    SettlementRun.objects.filter(pk=computed.pk).update(format_version=1)
    url = f"/admin/settlements/settlementrun/{computed.pk}/auditor-input.json"
    response = settlement_viewer.get(url, follow=True)
    assert response.redirect_chain == [
        (f"/admin/settlements/settlementrun/{computed.pk}/change/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "This run was computed with version 1 of the settlement format; only version 2 "
        "runs are exported."]
    with pytest.raises(RunNotExportable):
        run_input_lines(SettlementRun.objects.get(pk=computed.pk))


def test_the_back_office_readers_of_a_run(computed) -> None:
    line = ProviderLine.objects.get(run=computed)
    run = selectors.run_with_programme(computed.pk)
    assert run == computed and run is not None
    assert selectors.run_with_programme(999999) is None
    assert selectors.run_provider_line(run, line.provider_id) == line
    assert selectors.run_provider_line(run, ProviderFactory().pk) is None
    assert list(selectors.provider_report_lines(run, line.provider_id)) == list(
        PrepatientLine.objects.filter(run=run, provider_id=line.provider_id))
    assert list(selectors.run_lines_not_final(run)) == list(
        ProviderLine.objects.filter(run=run, final=False))
    assert list(selectors.run_payments(run)) == []
    assert selectors.correcting_run(run) == (RunKind.FINAL, None)
    approved = settlement_approve(run=run, approver=UserFactory(username="second"))
    assert selectors.correcting_run(approved) == (RunKind.ADJUSTMENT, approved.pk)
    assert list(selectors.run_payments(approved)) == list(
        ProviderPayment.objects.filter(run=approved))
    assert list(selectors.run_adjustments(approved)) == []
