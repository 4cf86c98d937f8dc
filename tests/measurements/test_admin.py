"""The caseworkers' back-office for measurements: types, values, notices, the overdue
list, the prepatient's HbA1c chart and the programme charts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core import clock
from apps.core.models import AccessLogEntry, AccessPurpose
from apps.measurements.admin import MeasurementAdmin, MeasurementFormSet
from apps.measurements.models import FollowUpDue, Measurement, MeasurementType, SafetyNotice
from apps.programs.models import Programme
from apps.registry.models import ExclusionReason, Prepatient
from apps.registry.services import lifecycle_exclude
from tests.factories import ProviderFactory, UserFactory
from tests.measurements.test_selectors import (
    enroll,
    full_set,
    hand_computed_programme,
    record,
)

pytestmark = pytest.mark.django_db

TODAY = date(2027, 2, 10)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """The pages are read on TODAY; the builders move the clock themselves."""
    with clock.travel_to(TODAY):
        yield


@pytest.fixture
def english(settings: Any) -> None:
    """The back-office has no language prefix: it speaks the default language."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def prepatient(make_candidate: Callable[..., Prepatient]) -> Prepatient:
    prepatient = enroll(make_candidate)
    record(prepatient, date(2026, 8, 10), "46")
    record(prepatient, date(2026, 11, 20), "43")
    return prepatient


def staff_client(settings: Any, *codenames: str) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def json_data(page: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>',
                      page, re.S)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def table(page: str, element_id: str) -> str:
    match = re.search(rf'<table id="{element_id}">(.*?)</table>', page, re.S)
    assert match, f"no table {element_id}"
    return match.group(1)


def cells(html: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts."""
    body = html.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# --- Who may see the pages ----------------------------------------------------------------


def page_urls(prepatient: Prepatient, programme: Programme) -> dict[str, str]:
    value = Measurement.objects.filter(prepatient=prepatient).first()
    assert value is not None
    return {
        "types": reverse("admin:measurements_measurementtype_changelist"),
        "type": reverse("admin:measurements_measurementtype_change",
                        args=[MeasurementType.objects.get(code="hba1c").pk]),
        "values": reverse("admin:measurements_measurement_changelist"),
        "value": reverse("admin:measurements_measurement_change", args=[value.pk]),
        "notices": reverse("admin:measurements_safetynotice_changelist"),
        "overdue": reverse("admin:measurements_followupdue_changelist"),
        "charts index": reverse("admin:measurements_measurement_charts_index"),
        "charts": reverse("admin:measurements_measurement_charts", args=[programme.pk]),
        "prepatient": reverse("admin:registry_prepatient_change", args=[prepatient.pk]),
    }


PAGES = ["types", "type", "values", "value", "notices", "overdue", "charts index", "charts",
         "prepatient"]


@pytest.mark.parametrize("page", PAGES)
def test_each_page_loads_for_a_caseworker(caseworker_client: Client, prepatient: Prepatient,
                                          programme: Programme, page: str) -> None:
    response = caseworker_client.get(page_urls(prepatient, programme)[page])
    assert response.status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_each_page_sends_someone_who_is_not_staff_to_the_login(
    settings: Any, prepatient: Prepatient, programme: Programme, page: str
) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    response = client.get(page_urls(prepatient, programme)[page])
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("page", ["values", "value", "notices", "overdue", "charts index",
                                  "charts"])
def test_staff_without_the_permission_are_refused(settings: Any, prepatient: Prepatient,
                                                  programme: Programme, page: str) -> None:
    response = staff_client(settings).get(page_urls(prepatient, programme)[page])
    assert response.status_code == 403


def test_the_charts_need_the_view_measurement_permission(
    settings: Any, programme: Programme
) -> None:
    url = reverse("admin:measurements_measurement_charts", args=[programme.pk])
    assert staff_client(settings, "view_safetynotice").get(url).status_code == 403
    assert staff_client(settings, "view_measurement").get(url).status_code == 200


def test_the_prepatient_page_shows_no_values_to_staff_without_the_permission(
    settings: Any, prepatient: Prepatient
) -> None:
    client = staff_client(settings, "view_prepatient")
    page = client.get(reverse("admin:registry_prepatient_change",
                              args=[prepatient.pk])).content.decode()
    assert "outcome-chart-data" not in page


# --- Values are read-only -----------------------------------------------------------------


def test_the_measurement_admin_allows_no_add_change_or_delete(
    caseworker_client: Client, caseworker: Any, rf: Any, prepatient: Prepatient
) -> None:
    model_admin = admin.site._registry[Measurement]
    request = rf.get("/")
    request.user = caseworker
    value = Measurement.objects.filter(prepatient=prepatient).first()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, value)
    assert not model_admin.has_delete_permission(request, value)
    assert caseworker_client.get(
        reverse("admin:measurements_measurement_add")).status_code == 403
    assert caseworker_client.get(
        reverse("admin:measurements_measurement_delete", args=[value.pk])).status_code == 403
    detail = caseworker_client.get(
        reverse("admin:measurements_measurement_change", args=[value.pk]))
    assert 'name="_save"' not in detail.content.decode()
    before = Measurement.objects.count()
    caseworker_client.post(reverse("admin:measurements_measurement_change", args=[value.pk]),
                           {"value": "40"})
    assert Measurement.objects.get(pk=value.pk).value == value.value
    assert Measurement.objects.count() == before


def test_the_measurement_admin_is_built_for_large_tables() -> None:
    model_admin = admin.site._registry[Measurement]
    assert isinstance(model_admin, MeasurementAdmin)
    assert model_admin.show_full_result_count is False
    assert set(model_admin.list_select_related) >= {"prepatient", "type"}
    assert set(model_admin.raw_id_fields) >= {"prepatient"}


def test_the_value_list_takes_the_same_queries_for_few_or_many_rows(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient],
    django_assert_max_num_queries: Any,
) -> None:
    first = enroll(make_candidate)
    record(first, date(2026, 9, 1), "44")
    url = reverse("admin:measurements_measurement_changelist")
    caseworker_client.get(url)  # warm the session, permissions and content types
    with CaptureQueriesContext(connection) as few:
        caseworker_client.get(url)
    for _ in range(5):
        full_set(enroll(make_candidate), date(2026, 9, 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = caseworker_client.get(url)
    assert len(response.context["cl"].result_list) > 30


def test_the_value_list_finds_a_prepatient_by_exact_programme_id(
    caseworker_client: Client, prepatient: Prepatient, make_candidate: Callable[..., Prepatient]
) -> None:
    other = enroll(make_candidate)
    record(other, date(2026, 9, 1), "44")
    response = caseworker_client.get(reverse("admin:measurements_measurement_changelist"),
                                     {"q": prepatient.pseudonym.upper()})
    shown = {row.prepatient_id for row in response.context["cl"].result_list}
    assert shown == {prepatient.pk}
    partial = caseworker_client.get(reverse("admin:measurements_measurement_changelist"),
                                    {"q": prepatient.pseudonym[:-2]})
    assert list(partial.context["cl"].result_list) == []


def test_the_value_list_filters_by_type_and_reporter(caseworker_client: Client,
                                                     prepatient: Prepatient) -> None:
    record(prepatient, date(2026, 9, 1), "1.10", code="hdl", unit="mmol/L")
    hdl = MeasurementType.objects.get(code="hdl")
    response = caseworker_client.get(reverse("admin:measurements_measurement_changelist"),
                                     {"type__id__exact": hdl.pk, "reporter_kind": "lab"})
    assert [row.type.code for row in response.context["cl"].result_list] == ["hdl"]


# --- The access log -----------------------------------------------------------------------


def test_the_value_list_logs_a_read_of_each_prepatient_on_the_page(
    caseworker_client: Client, caseworker: Any, make_candidate: Callable[..., Prepatient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    older, newer = enroll(make_candidate), enroll(make_candidate)
    record(older, date(2026, 9, 1), "44")
    record(older, date(2026, 10, 1), "43")
    record(newer, date(2026, 9, 1), "45")
    record(newer, date(2026, 10, 1), "44")
    monkeypatch.setattr(admin.site._registry[Measurement], "list_per_page", 2)

    response = caseworker_client.get(reverse("admin:measurements_measurement_changelist"))

    assert {row.prepatient_id for row in response.context["cl"].result_list} == {newer.pk}
    entries = list(AccessLogEntry.objects.all())
    assert [(e.subject_type, e.subject_id, e.purpose, e.what, e.actor_user_id)
            for e in entries] == [("registry.prepatient", str(newer.pk), AccessPurpose.CASEWORK,
                                   "measurement list", caseworker.pk)]


def test_an_empty_value_list_logs_nothing(caseworker_client: Client) -> None:
    caseworker_client.get(reverse("admin:measurements_measurement_changelist"))
    assert AccessLogEntry.objects.count() == 0


def test_one_value_s_page_logs_a_read_of_its_prepatient(caseworker_client: Client,
                                                        prepatient: Prepatient) -> None:
    value = Measurement.objects.filter(prepatient=prepatient).first()
    caseworker_client.get(reverse("admin:measurements_measurement_change", args=[value.pk]))
    assert list(AccessLogEntry.objects.values_list("subject_id", "what")) == [
        (str(prepatient.pk), "measurement detail")]


# --- Types --------------------------------------------------------------------------------


def test_a_caseworker_edits_a_type_s_names_and_range_but_not_its_code(
    caseworker_client: Client
) -> None:
    hba1c = MeasurementType.objects.get(code="hba1c")
    units = list(hba1c.units.all())
    data = {
        "code": "changed", "name_sv": "HbA1c (IFCC)", "name_en": "HbA1c (IFCC)",
        "loinc": "59261-8", "plausible_min": "20", "plausible_max": "190",
        "units-TOTAL_FORMS": str(len(units)), "units-INITIAL_FORMS": str(len(units)),
        "units-MIN_NUM_FORMS": "0", "units-MAX_NUM_FORMS": "1000",
    }
    for index, unit in enumerate(units):
        data.update({f"units-{index}-id": str(unit.pk), f"units-{index}-type": str(hba1c.pk),
                     f"units-{index}-unit": unit.unit,
                     f"units-{index}-subtract": str(unit.subtract),
                     f"units-{index}-multiply": str(unit.multiply)})
    response = caseworker_client.post(
        reverse("admin:measurements_measurementtype_change", args=[hba1c.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    hba1c.refresh_from_db()
    assert (hba1c.code, hba1c.name_sv, hba1c.plausible_min) == ("hba1c", "HbA1c (IFCC)",
                                                                Decimal("20"))


def test_the_type_list_links_to_the_programme_charts(caseworker_client: Client,
                                                     programme: Programme) -> None:
    page = caseworker_client.get(
        reverse("admin:measurements_measurementtype_changelist")).content.decode()
    assert reverse("admin:measurements_measurement_charts", args=[programme.pk]) in page


# --- Safety notices -----------------------------------------------------------------------


def test_the_safety_notices_list_shows_open_notices_by_default(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient]
) -> None:
    closed, still_open = enroll(make_candidate), enroll(make_candidate)
    record(closed, date(2026, 9, 1), "49")
    record(closed, date(2026, 10, 1), "45")
    record(still_open, date(2026, 9, 1), "52")
    url = reverse("admin:measurements_safetynotice_changelist")

    default = caseworker_client.get(url)
    closed_only = caseworker_client.get(url, {"status": "closed"})
    everything = caseworker_client.get(url, {"status": "all"})

    assert [n.prepatient_id for n in default.context["cl"].result_list] == [still_open.pk]
    assert [n.prepatient_id for n in closed_only.context["cl"].result_list] == [closed.pk]
    assert everything.context["cl"].result_list.count() == SafetyNotice.objects.count() == 2
    assert {e.subject_id for e in AccessLogEntry.objects.filter(what="safety notice list")} \
        == {str(still_open.pk), str(closed.pk)}


# --- The overdue list ---------------------------------------------------------------------


def overdue_rows(client: Client, **params: Any) -> list[tuple[int, int]]:
    response = client.get(reverse("admin:measurements_followupdue_changelist"), params)
    assert response.status_code == 200
    return [(due.prepatient_id, due.index) for due in response.context["cl"].result_list]


@pytest.mark.usefixtures("english")
def test_the_overdue_list_shows_exactly_the_overdue_due_dates(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient]
) -> None:
    # Enrolled 2026-08-03: the baseline set is due 2026-09-02, set #1 2026-11-03.
    done, late = enroll(make_candidate), enroll(make_candidate)
    gone = enroll(make_candidate)
    full_set(done, date(2026, 8, 20))
    with clock.travel_to(date(2026, 9, 1)):
        lifecycle_exclude(prepatient=gone, reason=ExclusionReason.OTHER, note="Moved abroad")

    with clock.travel_to(date(2026, 9, 2)):
        assert overdue_rows(caseworker_client) == []
    with clock.travel_to(date(2026, 9, 3)):
        assert overdue_rows(caseworker_client) == [(late.pk, 0)]
    with clock.travel_to(date(2026, 11, 4)):
        assert overdue_rows(caseworker_client) == [(late.pk, 0), (done.pk, 1), (late.pk, 1)]
        page = caseworker_client.get(
            reverse("admin:measurements_followupdue_changelist")).content.decode()
    assert "Overdue follow-ups" in page
    assert '<td class="field-days_overdue">63</td>' in page  # 2026-09-02 → 2026-11-04


def test_the_overdue_list_filters_by_provider(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient]
) -> None:
    mine, theirs = ProviderFactory(), ProviderFactory()
    one = enroll(make_candidate, mine)
    enroll(make_candidate, theirs)
    with clock.travel_to(date(2026, 9, 10)):
        rows = overdue_rows(caseworker_client,
                            **{"prepatient__current_provider__id__exact": mine.pk})
    assert rows == [(one.pk, 0)]


def test_the_other_statuses_show_every_due_date(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient]
) -> None:
    done = enroll(make_candidate)
    full_set(done, date(2026, 8, 20))
    complete = overdue_rows(caseworker_client, status="complete")
    assert complete == [(done.pk, 0)]
    assert len(overdue_rows(caseworker_client, status="all")) == FollowUpDue.objects.count()


# --- The prepatient's page ----------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_the_prepatient_page_has_the_hba1c_chart_data_and_table(
    caseworker_client: Client, prepatient: Prepatient, programme: Programme
) -> None:
    record(prepatient, date(2026, 12, 1), "1.2", code="hdl", unit="mmol/L")
    page = caseworker_client.get(reverse("admin:registry_prepatient_change",
                                         args=[prepatient.pk])).content.decode()

    data = json_data(page, "outcome-chart-data")
    assert data["labels"] == ["2026-08-10", "2026-11-20"]
    assert data["datasets"][0]["data"] == [46.0, 43.0]
    assert data["datasets"][1]["data"] == [float(programme.outcome_below)] * 2
    assert cells(table(page, "outcome-table")) == [["2026-08-10", "46.0", "Laboratory"],
                                                  ["2026-11-20", "43.0", "Laboratory"]]
    assert 'data-chart="outcome-chart-data" role="img" aria-label="' in page
    assert "vendor/chartjs/chart.umd.min.js" in page
    # The value history (all types, latest first, with the type's decimals) follows the chart.
    history = page.split('id="measurements-heading"', 1)[1]
    shown = re.findall(r'<td class="field-value_shown">\s*<p>(.*?)</p>', history)
    assert shown == ["1.20", "43.0", "46.0"]
    assert page.index("outcome-chart-data") < page.index('id="measurements-heading"')


@pytest.mark.usefixtures("english")
def test_the_prepatient_page_shows_only_the_latest_values(
    caseworker_client: Client, prepatient: Prepatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(prepatient, date(2026, 12, 1), "42")
    monkeypatch.setattr(MeasurementFormSet, "limit", 2)
    response = caseworker_client.get(reverse("admin:registry_prepatient_change",
                                             args=[prepatient.pk]))
    [formset] = [f for f in response.context["inline_admin_formsets"]
                 if f.opts.model is Measurement]
    assert [row.original.taken_on for row in formset] == [date(2026, 12, 1),
                                                          date(2026, 11, 20)]
    assert "Showing the latest 2 values" in response.content.decode()


@pytest.mark.usefixtures("english")
def test_a_prepatient_without_values_gets_a_note_instead_of_a_chart(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient]
) -> None:
    prepatient = enroll(make_candidate)
    page = caseworker_client.get(reverse("admin:registry_prepatient_change",
                                         args=[prepatient.pk])).content.decode()
    assert "No HbA1c values yet." in page
    assert "outcome-chart-data" not in page


# --- The programme charts -----------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_the_programme_charts_show_the_hand_computed_figures(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    hand_computed_programme(make_candidate)
    url = reverse("admin:measurements_measurement_charts", args=[programme.pk])

    page = caseworker_client.get(url).content.decode()

    median = json_data(page, "chart-median")
    assert median["labels"] == ["Q0 (months 0–3)", "Q1 (months 3–6)"]
    assert median["datasets"][0]["data"] == [45.5, 41.0]
    assert json_data(page, "chart-below")["datasets"][0]["data"] == [0.0, 66.7]
    assert cells(table(page, "table-median")) == [["Q0 (months 0–3)", "4", "45.50"],
                                                  ["Q1 (months 3–6)", "3", "41"]]
    assert cells(table(page, "table-below")) == [["Q0 (months 0–3)", "4", "0", "0.0"],
                                                 ["Q1 (months 3–6)", "3", "2", "66.7"]]
    for chart in ("chart-median", "chart-below", "chart-compliance"):
        assert re.search(rf'<canvas data-chart="{chart}" role="img" aria-label="[^"]+"', page)
    main = page.split('id="content-main"', 1)[1]
    assert main.count("<caption>") == 3
    assert main.count('<th scope="col">') == 11
    # two quarters in each quarter table, and each of the four prepatients' providers
    assert main.count('<th scope="row">') == 2 + 2 + 4


@pytest.mark.usefixtures("english")
def test_the_programme_charts_show_compliance_per_provider(
    caseworker_client: Client, make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    # At TODAY (2027-02-10) the baseline, #1 (2026-11-03) and #2 (2027-02-03) have passed.
    alpha, beta = ProviderFactory(name="Alfa Hälsa"), ProviderFactory(name="Beta Vård")
    diligent = enroll(make_candidate, alpha)
    enroll(make_candidate, beta)
    full_set(diligent, date(2026, 8, 20))
    full_set(diligent, date(2026, 10, 15))

    page = caseworker_client.get(reverse("admin:measurements_measurement_charts",
                                         args=[programme.pk])).content.decode()

    assert cells(table(page, "table-compliance")) == [["Alfa Hälsa", "3", "2", "66.7"],
                                                      ["Beta Vård", "3", "0", "0.0"]]
    spec = json_data(page, "chart-compliance")
    assert spec["labels"] == ["Alfa Hälsa", "Beta Vård"]
    assert spec["datasets"][0]["data"] == [66.7, 0.0]
    assert spec["horizontal"] is True


def test_the_programme_charts_log_no_reads(caseworker_client: Client,
                                           make_candidate: Callable[..., Prepatient],
                                           programme: Programme) -> None:
    hand_computed_programme(make_candidate)
    caseworker_client.get(reverse("admin:measurements_measurement_charts",
                                  args=[programme.pk]))
    assert AccessLogEntry.objects.count() == 0


def test_an_unknown_programme_is_not_found(caseworker_client: Client) -> None:
    response = caseworker_client.get(reverse("admin:measurements_measurement_charts",
                                             args=[999_999]))
    assert response.status_code == 404


def test_a_caseworker_can_open_the_form_for_a_new_type(caseworker_client: Client) -> None:
    response = caseworker_client.get(reverse("admin:measurements_measurementtype_add"))
    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()
