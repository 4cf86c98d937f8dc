"""Disputes of settlement lines: the service rules, the database's own refusals, and the
caseworkers' back-office (queue, read-only detail, the resolve page)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core import clock
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.models import AccessLogEntry, OrganisationEvent
from apps.measurements.models import FollowUpDue
from apps.providers.models import ApiCredential, Provider
from apps.providers.services import api_credential_issue
from apps.registry.services import lifecycle_drop_out, prepatient_enroll
from apps.settlements.errors import (
    DisputeAlreadyOpen,
    DisputeAlreadyResolved,
    LineNotDisputable,
)
from apps.settlements.models import (
    Dispute,
    DisputeStatus,
    PrepatientLine,
    RunKind,
    RunStatus,
    SettlementRun,
)
from apps.settlements.services import (
    dispute_raise,
    dispute_raise_for,
    dispute_resolve,
    settlement_approve,
    settlement_compute,
    settlement_prepare,
)
from tests.factories import ProviderFactory, UserFactory
from tests.providers.factories import LabFactory

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 12, 1)
TODAY = date(2026, 12, 3)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.travel_to(TODAY):
        yield


@pytest.fixture
def provider() -> Provider:
    return cast(Provider, ProviderFactory())


@pytest.fixture
def key(provider: Provider) -> ApiCredential:
    credential, _secret = api_credential_issue(provider=provider, label="finance")
    return credential


@pytest.fixture
def line(make_candidate: Any, programme: Any, provider: Provider) -> PrepatientLine:
    """A failure (dropped out after the baseline) attributed to ``provider`` in a computed
    final run that can be approved (the programme's payment period opened for the test)."""
    programme.payments_from = date(2026, 1, 1)
    programme.save()
    with clock.travel_to(date(2026, 8, 3)):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=provider)
    FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(completed_at=clock.now())
    with clock.travel_to(date(2026, 10, 1)):
        lifecycle_drop_out(prepatient=prepatient, note="moved abroad")
    run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.FINAL,
                             prepared_by=UserFactory(username="preparer"))
    settlement_compute(run_id=run.pk)
    found = PrepatientLine.objects.select_related("run").get(run=run)
    assert (found.result, found.provider_id) == ("failure", provider.pk)
    return found


def _line_state(line: PrepatientLine) -> tuple[Any, ...]:
    fresh = PrepatientLine.objects.get(pk=line.pk)
    return (fresh.result, fresh.reason, fresh.provider_id, fresh.end_date,
            fresh.evidence, fresh.decided_on)


@pytest.fixture(autouse=True)
def english_back_office(settings: Any) -> None:
    """The back-office speaks the default language (Swedish); these tests read English."""
    settings.LANGUAGE_CODE = "en"


def _approve(line: PrepatientLine) -> SettlementRun:
    return settlement_approve(run=line.run, approver=UserFactory(username="approver"),
                              accept_open_disputes=True)


# --- Raising ------------------------------------------------------------------------------


def test_a_provider_disputes_its_own_line_and_the_line_is_unchanged(
    line: PrepatientLine, key: ApiCredential, provider: Provider,
) -> None:
    before = _line_state(line)
    dispute = dispute_raise(line=line, reason="  The drop-out was registered by mistake.  ",
                            credential=key)
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert (dispute.run_id, dispute.provider_id) == (line.run_id, provider.pk)
    assert dispute.reason == "The drop-out was registered by mistake."
    assert dispute.raised_at == clock.now()
    assert dispute.raised_by_key == key
    assert dispute.raised_by_organisation == f"provider:{provider.pk}"
    assert (dispute.resolved_by, dispute.resolved_at, dispute.resolution_reason) == (
        None, None, "")
    assert _line_state(line) == before


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001])
def test_a_dispute_needs_a_reason_of_reasonable_length(
    line: PrepatientLine, key: ApiCredential, reason: Any,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        dispute_raise(line=line, reason=reason, credential=key)
    assert set(refused.value.fields) == {"reason"}
    assert not Dispute.objects.exists()


def test_only_the_provider_the_line_is_attributed_to_may_dispute_it(
    line: PrepatientLine,
) -> None:
    other, _k = api_credential_issue(provider=ProviderFactory(), label="other")
    lab, _l = api_credential_issue(lab=LabFactory(), label="lab")
    for credential in (other, lab):
        with pytest.raises(LineNotDisputable) as refused:
            dispute_raise(line=line, reason="Wrong.", credential=credential)
        assert isinstance(refused.value, NotFound)
        assert refused.value.code == "settlement_line_not_found"
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.COMPUTING, RunStatus.FAILED])
def test_lines_of_a_run_that_is_not_computed_cannot_be_disputed(
    line: PrepatientLine, key: ApiCredential, status: str,
) -> None:
    SettlementRun.objects.filter(pk=line.run_id).update(status=status)
    with pytest.raises(LineNotDisputable):
        dispute_raise(line=line, reason="Wrong.", credential=key)


def test_a_provider_disputes_its_line_by_run_number_and_programme_id(
    line: PrepatientLine, key: ApiCredential, provider: Provider,
) -> None:
    dispute = dispute_raise_for(provider=provider, run_id=line.run_id,
                                pseudonym=line.pseudonym, reason=" Wrong. ", credential=key)
    assert (dispute.line_id, dispute.provider_id, dispute.reason) == (
        line.pk, provider.pk, "Wrong.")


@pytest.mark.parametrize("where", ["no run number", "another run", "another programme ID",
                                   "another provider", "not computed"])
def test_a_line_that_is_not_the_providers_to_dispute_is_not_found(
    line: PrepatientLine, key: ApiCredential, provider: Provider, where: str,
) -> None:
    run_id: int | None = line.run_id
    pseudonym, asking = line.pseudonym, provider
    if where == "no run number":
        run_id = None
    elif where == "another run":
        run_id = line.run_id + 1
    elif where == "another programme ID":
        pseudonym = "P-NOBODY"
    elif where == "another provider":
        asking = cast(Provider, ProviderFactory())
    else:
        SettlementRun.objects.filter(pk=line.run_id).update(status=RunStatus.FAILED)
    with pytest.raises(LineNotDisputable):
        dispute_raise_for(provider=asking, run_id=run_id, pseudonym=pseudonym,
                          reason="Wrong.", credential=key)
    assert not Dispute.objects.exists()


def test_a_missing_line_is_refused_before_the_reason_is_read(
    key: ApiCredential, provider: Provider,
) -> None:
    with pytest.raises(LineNotDisputable):
        dispute_raise_for(provider=provider, run_id=1, pseudonym="P-NOBODY", reason="",
                          credential=key)


def test_a_line_has_at_most_one_open_dispute_and_may_be_disputed_again_once_decided(
    line: PrepatientLine, key: ApiCredential,
) -> None:
    first = dispute_raise(line=line, reason="Wrong.", credential=key)
    with pytest.raises(DisputeAlreadyOpen) as refused:
        dispute_raise(line=line, reason="Still wrong.", credential=key)
    assert isinstance(refused.value, Conflict)
    assert refused.value.http_status == 409
    dispute_resolve(dispute=first, decision=DisputeStatus.REJECTED, reason="The data holds.",
                    caseworker=UserFactory(username="cw"))
    second = dispute_raise(line=line, reason="Here is the lab's confirmation.", credential=key)
    assert second.status == DisputeStatus.OPEN
    assert Dispute.objects.filter(line=line).count() == 2


def test_a_concurrent_second_dispute_is_refused_by_the_database_as_a_conflict(
    line: PrepatientLine, key: ApiCredential, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two requests at once both pass the service's check; the partial unique index
    refuses the second, which is answered as the same conflict."""
    from django.db.models import QuerySet

    dispute_raise(line=line, reason="Wrong.", credential=key)
    real_exists = QuerySet.exists
    calls: list[int] = []

    def first_check_misses(queryset: QuerySet[Any]) -> bool:
        calls.append(1)
        return False if len(calls) == 1 else real_exists(queryset)

    monkeypatch.setattr(QuerySet, "exists", first_check_misses)
    with pytest.raises(DisputeAlreadyOpen):
        dispute_raise(line=line, reason="At the same time.", credential=key)
    monkeypatch.undo()
    assert Dispute.objects.filter(line=line).count() == 1


def test_lines_of_an_approved_run_may_be_disputed(line: PrepatientLine,
                                                  key: ApiCredential) -> None:
    approved = _approve(line)
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    assert dispute.run == approved


# --- Resolving ------------------------------------------------------------------------------


def test_resolving_records_the_decision_and_tells_the_provider(
    line: PrepatientLine, key: ApiCredential, provider: Provider,
) -> None:
    before = _line_state(line)
    caseworker = UserFactory(username="cw")
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    resolved = dispute_resolve(dispute=dispute, decision="upheld",
                               reason=" The lab value was filed late. ", caseworker=caseworker)
    resolved.refresh_from_db()
    assert resolved.status == DisputeStatus.UPHELD
    assert resolved.resolution_reason == "The lab value was filed late."
    assert (resolved.resolved_by, resolved.resolved_at) == (caseworker, clock.now())
    event = OrganisationEvent.objects.get(kind="dispute_resolved")
    assert (event.organisation, event.kind, event.subject, event.occurred_on) == (
        f"provider:{provider.pk}", "dispute_resolved", line.pseudonym, TODAY)
    assert event.data == {"dispute": dispute.pk, "run": line.run_id,
                          "run_reference": line.run.reference, "decision": "upheld"}
    assert _line_state(line) == before


def test_a_resolved_dispute_cannot_be_resolved_again(line: PrepatientLine,
                                                     key: ApiCredential) -> None:
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    dispute_resolve(dispute=dispute, decision="rejected", reason="No.",
                    caseworker=UserFactory(username="cw"))
    with pytest.raises(DisputeAlreadyResolved) as refused:
        dispute_resolve(dispute=dispute, decision="upheld", reason="Yes after all.",
                        caseworker=UserFactory(username="cw2"))
    assert refused.value.code == "dispute_already_resolved"
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution_reason) == ("rejected", "No.")
    assert OrganisationEvent.objects.filter(kind="dispute_resolved").count() == 1


@pytest.mark.parametrize(("decision", "reason", "field"), [
    ("open", "A reason.", "decision"),
    ("maybe", "A reason.", "decision"),
    ("upheld", "", "reason"),
    ("rejected", "   ", "reason"),
    ("upheld", "x" * 2001, "reason"),
])
def test_a_decision_is_upheld_or_rejected_with_a_reason(
    line: PrepatientLine, key: ApiCredential, decision: str, reason: str, field: str,
) -> None:
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    with pytest.raises(InvalidInput) as refused:
        dispute_resolve(dispute=dispute, decision=decision, reason=reason,
                        caseworker=UserFactory(username="cw"))
    assert set(refused.value.fields) == {field}
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert not OrganisationEvent.objects.filter(kind="dispute_resolved").exists()


def test_an_upheld_dispute_on_an_approved_run_is_corrected_by_an_adjustment_run(
    line: PrepatientLine, key: ApiCredential, programme: Any,
) -> None:
    approved = _approve(line)
    before = _line_state(line)
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    dispute_resolve(dispute=dispute, decision="upheld", reason="Right.",
                    caseworker=UserFactory(username="cw"))
    assert _line_state(line) == before
    approved.refresh_from_db()
    assert approved.status == RunStatus.APPROVED
    adjustment = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.ADJUSTMENT,
                                    corrects=approved, prepared_by=UserFactory(username="p2"))
    assert adjustment.corrects == approved


def test_a_disputed_line_is_never_deleted_by_a_recomputation(
    line: PrepatientLine, key: ApiCredential,
) -> None:
    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    before = _line_state(line)
    run = settlement_compute(run_id=line.run_id)  # a repeated task leaves the run as it is
    assert run.status == RunStatus.COMPUTED
    assert _line_state(line) == before
    assert Dispute.objects.get(pk=dispute.pk).line_id == line.pk
    with contextlib.suppress(IntegrityError):  # and the database protects the line anyway
        PrepatientLine.objects.filter(pk=line.pk).delete()
    assert PrepatientLine.objects.filter(pk=line.pk).exists()


def test_approval_with_an_open_dispute_needs_the_approvers_explicit_confirmation(
    line: PrepatientLine, key: ApiCredential,
) -> None:
    from apps.settlements.errors import OpenDisputes

    dispute = dispute_raise(line=line, reason="Wrong.", credential=key)
    approver = UserFactory(username="approver")
    with pytest.raises(OpenDisputes) as refused:
        settlement_approve(run=line.run, approver=approver)
    assert "1 dispute of this run is still open" in str(refused.value.message)
    line.run.refresh_from_db()
    assert line.run.status == RunStatus.COMPUTED
    dispute_resolve(dispute=dispute, decision=DisputeStatus.REJECTED,
                    reason="The drop-out is documented.", caseworker=approver)
    assert settlement_approve(run=line.run, approver=approver).status == RunStatus.APPROVED


def test_the_approve_page_shows_open_disputes_and_passes_the_confirmation(
    line: PrepatientLine, key: ApiCredential, client: Any, settings: Any,
) -> None:
    from apps.core.roles import caseworker_group

    settings.STAFF_MFA_REQUIRED = False
    dispute_raise(line=line, reason="Wrong.", credential=key)
    approver = UserFactory(username="approver", is_staff=True)
    approver.groups.add(caseworker_group())
    client.force_login(approver)
    url = f"/admin/settlements/settlementrun/{line.run_id}/approve/"
    page = client.get(url)
    assert b"accept_open_disputes" in page.content
    client.post(url, {})
    line.run.refresh_from_db()
    assert line.run.status == RunStatus.COMPUTED
    client.post(url, {"accept_open_disputes": "1"})
    line.run.refresh_from_db()
    assert line.run.status == RunStatus.APPROVED


# --- The database's own refusals ------------------------------------------------------------


def _row(line: PrepatientLine, key: ApiCredential, **fields: Any) -> Dispute:
    values: dict[str, Any] = {"line": line, "run_id": line.run_id,
                              "provider_id": line.provider_id, "reason": "Wrong.",
                              "raised_by_key": key, "raised_by_organisation": "provider:x"}
    return Dispute.objects.create(**{**values, **fields})


def test_the_database_refuses_a_second_open_dispute_of_a_line(
    line: PrepatientLine, key: ApiCredential,
) -> None:
    _row(line, key)
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(line, key)
    _row(line, key, status="rejected", resolution_reason="No.",
         resolved_by=UserFactory(username="cw"), resolved_at=clock.now())
    assert Dispute.objects.filter(line=line).count() == 2


@pytest.mark.parametrize("fields", [
    {"status": "upheld", "resolved_at": "now", "resolved_by": "user"},  # no reason
    {"status": "upheld", "resolved_at": "now", "resolved_by": "user",
     "resolution_reason": "   "},
    {"status": "rejected", "resolution_reason": "No.", "resolved_at": "now"},  # no resolver
    {"status": "rejected", "resolution_reason": "No.", "resolved_by": "user"},  # no time
    {"status": "open", "resolution_reason": "No."},  # open, yet with a decision
    {"status": "withdrawn", "resolution_reason": "No.", "resolved_at": "now",
     "resolved_by": "user"},
    {"reason": ""},
    {"reason": "   "},
])
def test_the_database_refuses_an_incomplete_dispute(
    line: PrepatientLine, key: ApiCredential, fields: dict[str, Any],
) -> None:
    values = dict(fields)
    if values.get("resolved_at") == "now":
        values["resolved_at"] = clock.now()
    if values.get("resolved_by") == "user":
        values["resolved_by"] = UserFactory(username="cw")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(line, key, **values)
    assert not Dispute.objects.exists()


def test_a_dispute_is_recorded_against_the_line_of_an_approved_run(
    line: PrepatientLine, key: ApiCredential,
) -> None:
    """Raising and resolving write dispute rows only: the immutable line is not touched."""
    _approve(line)
    dispute = _row(line, key)
    Dispute.objects.filter(pk=dispute.pk).update(
        status="upheld", resolution_reason="Right.", resolved_by=UserFactory(username="cw"),
        resolved_at=clock.now())
    assert Dispute.objects.get(pk=dispute.pk).status == "upheld"


# --- The back-office --------------------------------------------------------------------------

CHANGELIST = "/admin/settlements/dispute/"


def _change(dispute: Dispute) -> str:
    return f"/admin/settlements/dispute/{dispute.pk}/change/"


def _resolve(dispute: Dispute) -> str:
    return f"/admin/settlements/dispute/{dispute.pk}/resolve/"


def staff_client(settings: Any, *codenames: str) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(username=f"staff-{'-'.join(codenames) or 'none'}", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="settlements",
                                                        codename__in=codenames))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def open_dispute(line: PrepatientLine, key: ApiCredential) -> Dispute:
    return dispute_raise(line=line, reason="The drop-out was registered by mistake.",
                         credential=key)


def test_the_queue_shows_open_disputes_by_default_with_their_number(
    open_dispute: Dispute, key: ApiCredential, caseworker_client: Client,
) -> None:
    dispute_resolve(dispute=open_dispute, decision="rejected", reason="No.",
                    caseworker=UserFactory(username="cw"))
    reopened = dispute_raise(line=open_dispute.line, reason="Again.", credential=key)
    response = caseworker_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [reopened]
    assert "1 open dispute awaits a decision." in response.content.decode()
    everything = caseworker_client.get(CHANGELIST, {"status": "all"})
    assert set(everything.context["cl"].result_list) == {open_dispute, reopened}
    rejected = caseworker_client.get(CHANGELIST, {"status": "rejected"})
    assert list(rejected.context["cl"].result_list) == [open_dispute]
    by_run = caseworker_client.get(CHANGELIST, {"status": "all",
                                                "run__id__exact": open_dispute.run_id})
    assert by_run.status_code == 200 and len(by_run.context["cl"].result_list) == 2
    by_provider = caseworker_client.get(CHANGELIST, {
        "status": "all", "provider__id__exact": ProviderFactory().pk})
    assert list(by_provider.context["cl"].result_list) == []
    search = caseworker_client.get(CHANGELIST, {"status": "all",
                                                "q": open_dispute.line.pseudonym})
    assert len(search.context["cl"].result_list) == 2
    assert not AccessLogEntry.objects.exists()  # the list shows no line's figures


def test_the_queue_costs_the_same_number_of_queries_however_many_rows(
    open_dispute: Dispute, key: ApiCredential, caseworker_client: Client,
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert caseworker_client.get(CHANGELIST, {"status": "all"}).status_code == 200
        return len(captured)

    caseworker = UserFactory(username="cw")
    dispute_resolve(dispute=open_dispute, decision="rejected", reason="No.",
                    caseworker=caseworker)
    few = queries()
    for number in range(8):
        dispute = dispute_raise(line=open_dispute.line, reason=f"Again {number}.",
                                credential=key)
        dispute_resolve(dispute=dispute, decision="rejected", reason="No.",
                        caseworker=caseworker)
    assert queries() == few


def test_opening_a_dispute_shows_it_read_only_and_is_logged(
    open_dispute: Dispute, caseworker_client: Client, caseworker: Any,
) -> None:
    response = caseworker_client.get(_change(open_dispute))
    assert response.status_code == 200
    content = response.content.decode()
    assert "The drop-out was registered by mistake." in content
    assert _resolve(open_dispute) in content
    entry = AccessLogEntry.objects.get()
    assert (entry.actor_user, entry.subject_type, entry.subject_id, entry.purpose,
            entry.what) == (caseworker, "registry.prepatient",
                            str(open_dispute.line.prepatient_id), "settlement",
                            "admin settlement dispute")
    assert caseworker_client.post(_change(open_dispute), {"status": "upheld"}
                                  ).status_code == 403
    assert caseworker_client.get("/admin/settlements/dispute/add/").status_code == 403
    assert caseworker_client.post(f"/admin/settlements/dispute/{open_dispute.pk}/delete/"
                                  ).status_code == 403
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.OPEN


def test_a_caseworker_resolves_a_dispute_with_a_reason(
    open_dispute: Dispute, caseworker_client: Client, caseworker: Any,
) -> None:
    page = caseworker_client.get(_resolve(open_dispute))
    assert page.status_code == 200
    assert "The drop-out was registered by mistake." in page.content.decode()
    assert AccessLogEntry.objects.filter(what="admin resolve settlement dispute",
                                         actor_user=caseworker).count() == 1
    response = caseworker_client.post(_resolve(open_dispute), {
        "decision": "rejected", "reason": "The provider reported the drop-out itself."})
    assert response.status_code == 302
    assert response["Location"] == _change(open_dispute)
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.REJECTED
    assert open_dispute.resolution_reason == "The provider reported the drop-out itself."
    assert open_dispute.resolved_by == caseworker
    assert OrganisationEvent.objects.filter(kind="dispute_resolved").count() == 1
    detail = caseworker_client.get(_change(open_dispute)).content.decode()
    assert _resolve(open_dispute) not in detail
    assert "Rejected: the line stands." in detail
    again = caseworker_client.post(_resolve(open_dispute), {"decision": "upheld",
                                                           "reason": "Changed my mind."})
    assert again.status_code == 302
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.REJECTED


@pytest.mark.parametrize("data", [
    {"decision": "upheld", "reason": ""},
    {"decision": "upheld", "reason": "   "},
    {"decision": "upheld"},
    {"reason": "A reason but no decision."},
    {"decision": "open", "reason": "Not a decision."},
])
def test_the_resolve_page_refuses_without_a_decision_and_a_reason(
    open_dispute: Dispute, caseworker_client: Client, data: dict[str, str],
) -> None:
    response = caseworker_client.post(_resolve(open_dispute), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.OPEN
    assert not OrganisationEvent.objects.filter(kind="dispute_resolved").exists()


def test_resolving_needs_the_resolve_permission(open_dispute: Dispute, settings: Any) -> None:
    viewer = staff_client(settings, "view_dispute")
    detail = viewer.get(_change(open_dispute))
    assert detail.status_code == 200
    assert _resolve(open_dispute) not in detail.content.decode()
    assert viewer.get(_resolve(open_dispute)).status_code == 403
    assert viewer.post(_resolve(open_dispute), {"decision": "upheld",
                                                "reason": "Right."}).status_code == 403
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.OPEN
    nobody = staff_client(settings)
    assert nobody.get(CHANGELIST).status_code == 403
    assert nobody.get(_change(open_dispute)).status_code == 403
    resolver = staff_client(settings, "resolve_dispute")
    assert resolver.post(_resolve(open_dispute), {"decision": "upheld",
                                                  "reason": "Right."}).status_code == 302
    open_dispute.refresh_from_db()
    assert open_dispute.status == DisputeStatus.UPHELD


def test_an_upheld_dispute_on_an_approved_run_links_to_preparing_an_adjustment(
    open_dispute: Dispute, caseworker_client: Client,
) -> None:
    run = _approve(open_dispute.line)
    response = caseworker_client.post(_resolve(open_dispute), {
        "decision": "upheld", "reason": "The lab value was filed late."}, follow=True)
    content = response.content.decode()
    assert "prepare an adjustment run" in content
    assert (f"/admin/settlements/settlementrun/add/?programme={run.programme_id}"
            f"&amp;as_of={run.as_of.isoformat()}&amp;kind=adjustment&amp;corrects={run.pk}"
            ) in content
    form = caseworker_client.get("/admin/settlements/settlementrun/add/", {
        "programme": run.programme_id, "as_of": run.as_of.isoformat(), "kind": "adjustment",
        "corrects": run.pk})
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["corrects"] == str(run.pk)


def test_an_upheld_dispute_on_a_run_not_yet_approved_links_to_a_new_run(
    open_dispute: Dispute, caseworker_client: Client,
) -> None:
    caseworker_client.post(_resolve(open_dispute), {"decision": "upheld", "reason": "Right."})
    content = caseworker_client.get(_change(open_dispute)).content.decode()
    assert "The run is not approved" in content
    assert "kind=final" in content and "corrects=" not in content


def test_the_caseworkers_group_may_resolve_disputes(caseworker: Any) -> None:
    assert caseworker.has_perm("settlements.resolve_dispute")
    assert caseworker.has_perm("settlements.view_dispute")


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(("decision", "approved", "message"), [
    ("rejected", False, "The dispute is rejected; the provider has been told."),
    ("upheld", False, "The dispute is upheld; the provider has been told. The run is not "
                      "approved: put the data right and prepare a new run."),
    ("upheld", True, "The dispute is upheld; the provider has been told. The line is not "
                     "changed: prepare an adjustment run to correct the approved run."),
])
def test_the_message_after_resolving_says_what_follows_from_the_decision(
    open_dispute: Dispute, caseworker_client: Client, decision: str, approved: bool,
    message: str,
) -> None:
    if approved:
        _approve(open_dispute.line)
    response = caseworker_client.post(_resolve(open_dispute), {
        "decision": decision, "reason": "Checked against the laboratory's report."},
        follow=True)
    assert response.redirect_chain == [(_change(open_dispute), 302)]
    assert _messages(response) == [message]


def test_the_resolve_page_of_a_decided_dispute_sends_back_to_it_with_a_warning(
    open_dispute: Dispute, caseworker_client: Client,
) -> None:
    dispute_resolve(dispute=open_dispute, decision="rejected", reason="No.",
                    caseworker=UserFactory(username="cw"))
    response = caseworker_client.get(_resolve(open_dispute), follow=True)
    assert response.redirect_chain == [(_change(open_dispute), 302)]
    assert _messages(response) == ["This dispute has already been resolved."]
    assert not AccessLogEntry.objects.filter(what="admin resolve settlement dispute").exists()


def test_a_refusal_of_the_service_is_shown_on_the_resolve_page(
    open_dispute: Dispute, caseworker_client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from apps.settlements import admin_disputes
    from apps.settlements.errors import DisputeAlreadyResolved as Resolved

    def resolved_meanwhile(**_kwargs: Any) -> Dispute:
        raise Resolved()

    monkeypatch.setattr(admin_disputes, "dispute_resolve", resolved_meanwhile)
    response = caseworker_client.post(_resolve(open_dispute), {
        "decision": "upheld", "reason": "Right."})
    assert response.status_code == 200
    assert "This dispute has already been resolved." in response.content.decode()
    assert _messages(response) == []


def test_the_open_disputes_are_counted_per_run_and_overall(open_dispute: Dispute) -> None:
    from apps.settlements.selectors import open_dispute_count

    assert open_dispute_count() == 1
    assert open_dispute_count(open_dispute.run) == 1
    dispute_resolve(dispute=open_dispute, decision="rejected", reason="No.",
                    caseworker=UserFactory(username="cw"))
    assert (open_dispute_count(), open_dispute_count(open_dispute.run)) == (0, 0)
