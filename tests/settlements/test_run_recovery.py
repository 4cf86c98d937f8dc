"""Runs that cannot get lost: a broker outage at preparation, a worker that died,
"compute again" in the back-office."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from apps.core import clock
from apps.registry.services import prepatient_enroll
from apps.settlements.errors import RunNotRestartable
from apps.settlements.models import PrepatientLine, RunKind, RunStatus, SettlementRun
from apps.settlements.services import (
    run_is_stalled,
    settlement_compute_again,
    settlement_prepare,
    settlement_runs_recover,
)
from prevention.celery import app as celery_app
from tests.factories import ProviderFactory, UserFactory

AS_OF = date(2026, 12, 1)
UNREACHABLE = "redis://127.0.0.1:9/0"  # nothing listens on the discard port


def _reset_connections() -> None:
    """Forget pooled broker connections, so the next task connects to the broker now set."""
    import kombu.pools

    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks go to a broker that does not answer, as in an outage."""
    saved = celery_app.conf.task_always_eager
    _reset_connections()
    # The settings are namespaced (CELERY_…); Celery reads the broker it sends to from
    # CELERY_BROKER_WRITE_URL first, whatever else is configured.
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", UNREACHABLE)
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    try:
        yield
    finally:
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=saved)
        monkeypatch.delenv("CELERY_BROKER_WRITE_URL")
        _reset_connections()


@pytest.fixture
def enrolled(make_candidate: Any) -> Any:
    with clock.travel_to(date(2026, 8, 3)):
        return prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())


@pytest.mark.django_db
def test_preparing_while_the_broker_is_down_answers_and_the_run_waits_for_it(
    enrolled: Any, programme: Any, caseworker_client: Any, broker_down: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with clock.travel_to(AS_OF), django_capture_on_commit_callbacks(execute=True):
        response = caseworker_client.post("/admin/settlements/settlementrun/add/", {
            "programme": programme.pk, "kind": RunKind.PROVISIONAL, "as_of": "2026-12-01",
            "note": "", "provider_lines-TOTAL_FORMS": "0", "provider_lines-INITIAL_FORMS": "0",
            "provider_lines-MIN_NUM_FORMS": "0", "provider_lines-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302, response.content[:2000]
    run = SettlementRun.objects.get()
    assert (run.status, run.enqueued_at) == (RunStatus.QUEUED, None)
    with clock.travel_to(AS_OF):
        assert run_is_stalled(run)
        page = caseworker_client.get(f"/admin/settlements/settlementrun/{run.pk}/change/")
    assert "väntar på meddelandeköns server" in page.content.decode()  # the back-office: Swedish
    # While the broker is still down the periodic check leaves the run queued…
    with clock.travel_to(AS_OF):
        assert settlement_runs_recover() == []
    assert SettlementRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    # … and when it answers again, the run is handed to the workers and computed.
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
    with clock.travel_to(AS_OF):
        assert settlement_runs_recover() == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPUTED
    assert PrepatientLine.objects.filter(run=run).count() == 1


def _stalled_run(programme: Any) -> SettlementRun:
    """A run left "computing" by a worker that died long ago."""
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory())
    SettlementRun.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPUTING, attempts=1, started_at=clock.now() - timedelta(hours=2),
        enqueued_at=clock.now() - timedelta(hours=2))
    return SettlementRun.objects.get(pk=run.pk)


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_found_by_the_periodic_check_and_completed(
    enrolled: Any, programme: Any,
) -> None:
    run = _stalled_run(programme)
    assert run_is_stalled(run)
    assert settlement_runs_recover() == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.COMPUTED, 2)
    assert settlement_runs_recover() == []  # nothing left to do


@pytest.mark.django_db
def test_a_stalled_or_failed_run_is_computed_again_from_the_back_office(
    enrolled: Any, programme: Any, caseworker_client: Any,
) -> None:
    run = _stalled_run(programme)
    page = caseworker_client.get(f"/admin/settlements/settlementrun/{run.pk}/change/")
    content = page.content.decode()
    assert "Har stannat." in content and "/compute-again/" in content
    url = f"/admin/settlements/settlementrun/{run.pk}/compute-again/"
    assert caseworker_client.get(url).status_code == 200
    assert caseworker_client.post(url).status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.COMPUTED
    # A computed run is not computed again.
    with pytest.raises(RunNotRestartable):
        settlement_compute_again(run=run)
    SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="boom")
    assert settlement_compute_again(run=run).status == RunStatus.COMPUTED


@pytest.mark.django_db
def test_compute_again_confirms_with_a_message_and_shows_a_refusal_on_its_page(
    enrolled: Any, programme: Any, caseworker_client: Any, settings: Any,
) -> None:
    settings.LANGUAGE_CODE = "en"
    run = _stalled_run(programme)
    url = f"/admin/settlements/settlementrun/{run.pk}/compute-again/"
    page = caseworker_client.get(url)
    assert page.status_code == 200
    assert "Compute the run again" in page.content.decode()
    done = caseworker_client.post(url, follow=True)
    assert done.redirect_chain == [(f"/admin/settlements/settlementrun/{run.pk}/change/", 302)]
    assert [str(message) for message in done.context["messages"]] == [
        "The run is queued to be computed again."]
    refused = caseworker_client.post(url)  # computed now: nothing to compute again
    assert refused.status_code == 200
    assert "Only a failed or stalled run is computed again" in refused.content.decode()
    assert SettlementRun.objects.get(pk=run.pk).status == RunStatus.COMPUTED


@pytest.mark.django_db
def test_compute_again_needs_the_add_permission(
    enrolled: Any, programme: Any, client: Any, settings: Any,
) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(UserFactory(username="staff-no-perms", is_staff=True))
    run = _stalled_run(programme)
    url = f"/admin/settlements/settlementrun/{run.pk}/compute-again/"
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert SettlementRun.objects.get(pk=run.pk).status == RunStatus.COMPUTING


@pytest.mark.django_db
def test_a_run_that_is_only_queued_briefly_is_not_stalled(enrolled: Any, programme: Any) -> None:
    morning = datetime.combine(AS_OF, time(9), tzinfo=ZoneInfo("Europe/Stockholm"))
    with clock.travel_to(morning):
        run = settlement_prepare(programme=programme, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory())
        SettlementRun.objects.filter(pk=run.pk).update(enqueued_at=clock.now())
        run.refresh_from_db()
        assert not run_is_stalled(run)
    with clock.travel_to(morning + timedelta(hours=1)):
        assert run_is_stalled(run)  # the message was lost: handed again


@pytest.mark.django_db(transaction=True)
def test_a_run_a_live_worker_is_computing_is_never_taken_over(
    enrolled: Any, programme: Any,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks tell a live worker on PostgreSQL; elsewhere only the time does")
    run = _stalled_run(programme)
    locked, release = threading.Event(), threading.Event()

    def worker() -> None:  # holds the run's row lock as a computing worker does
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT id FROM settlements_settlementrun WHERE id = %s "
                               "FOR UPDATE", [run.pk])
                locked.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert not run_is_stalled(run)
        assert settlement_runs_recover() == []
    finally:
        release.set()
        thread.join(30)
    assert run_is_stalled(run)
