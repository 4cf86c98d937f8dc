"""My page: the person's own state, provider, follow-up, outcome values, consents and
data.

Every query here starts from the signed-in person's own record
(``PrepatientMixin.prepatient``); nothing takes a person's id from the URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from apps.consent.models import ConsentAction, ConsentEvent, ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.errors import DomainError
from apps.measurements.models import ReporterKind
from apps.measurements.rules import ABOUT
from apps.measurements.selectors import SeriesPoint, measurement_type_names
from apps.registry.models import (
    ExclusionReason,
    LifecycleEvent,
    Prepatient,
    PrepatientState,
    SampleSource,
)
from apps.registry.selectors import prepatient_detail, switch_possible
from apps.site import selectors, services
from apps.site.forms_marketplace import ResearchConsentForm, WithdrawConsentForm
from apps.site.mixins import PrepatientMixin, SubmitOnceMixin
from apps.site.views_marketplace import NeverCacheMixin, long_date, step_url
from apps.site.words import goal_words
from prevention_engine.dates import switch_window_end
from prevention_engine.model import Criterion


def _source(kind: str) -> str:
    """Who reported a value, in the words My page uses."""
    words: dict[str, str] = {
        ReporterKind.LAB: _("Laboratory"),
        ReporterKind.PROVIDER: _("Your provider"),
        ReporterKind.DERIVED: _("Your provider"),
        ReporterKind.PREPATIENT: _("You"),
        ReporterKind.CASEWORKER: _("Programme staff"),
    }
    return words.get(kind, kind)


@dataclass(frozen=True)
class OutcomeRow:
    taken_on: date
    value: Decimal
    source: str


@dataclass(frozen=True)
class OutcomeChart:
    """One outcome criterion of the person's version: its measure's values and goal."""

    key: str  # for element ids: the measure's code
    name: str  # the measure's name
    unit: str
    goal: str  # e.g. "below 42 mmol/mol"
    about: str  # what the measure shows (the definition's ``outcome.<measure>`` text, else
    # the measurement catalogue's)
    rows: list[OutcomeRow]
    chart: dict[str, Any] | None


def outcome_rows(prepatient: Prepatient, measure: str,
                 series: Iterable[SeriesPoint]) -> list[OutcomeRow]:
    """Every current value of ``measure``, oldest first, starting with the sample that
    let the person in (unless the same day's value is also stored as a measurement)."""
    rows = [OutcomeRow(taken_on=point.taken_on, value=point.value, source=_source(point.source))
            for point in series]
    baseline = prepatient.baseline_sample
    if (baseline is not None and baseline.measure == measure
            and all(row.taken_on != baseline.taken_on for row in rows)):
        rows.insert(0, OutcomeRow(
            taken_on=baseline.taken_on, value=baseline.value,
            source=(_("Laboratory, before you joined") if baseline.source == SampleSource.LAB
                    else _("You, checked by staff, before you joined"))))
    return sorted(rows, key=lambda row: row.taken_on)


def _number(value: Decimal) -> float:
    return float(value)


def chart_data(rows: list[OutcomeRow], criterion: Criterion, name: str,
               goal: str) -> dict[str, Any]:
    """What the chart script draws (the same figures as the table). A target line is
    drawn where the goal is a value; a change is measured from the person's own start."""
    unit = "" if criterion.unit == "score" else criterion.unit
    return {
        "labels": [date_format(row.taken_on, "j M Y") for row in rows],
        "values": [_number(row.value) for row in rows],
        "target": _number(criterion.threshold) if criterion.compare == "value" else None,
        "valueLabel": (_("Your values: %(measure)s (%(unit)s)") % {"measure": name,
                                                                    "unit": unit}
                       if unit else _("Your values: %(measure)s") % {"measure": name}),
        "targetLabel": _("Target: %(goal)s") % {"goal": goal},
        "axisLabel": unit,
    }


def outcome_charts(prepatient: Prepatient, page: selectors.MyPage,
                   language: str) -> list[OutcomeChart]:
    terms = selectors.enrollment_terms(prepatient)
    names = measurement_type_names({criterion.measure for criterion, _points in page.outcomes})
    charts = []
    for criterion, points in page.outcomes:
        name = str(names.get(criterion.measure, criterion.measure))
        goal = goal_words(criterion)
        rows = outcome_rows(prepatient, criterion.measure, points)
        own = terms.messages.get(f"outcome.{criterion.measure}", {})
        about = own.get(language, own.get("sv", "")) if own else str(
            ABOUT.get(criterion.measure, ""))
        charts.append(OutcomeChart(
            key=criterion.measure, name=name,
            unit="" if criterion.unit == "score" else criterion.unit, goal=goal,
            about=about,
            rows=rows, chart=chart_data(rows, criterion, name, goal) if rows else None))
    return charts


def state_words(prepatient: Prepatient,
                leaving_event: LifecycleEvent | None = None) -> tuple[str, str]:
    """(a short label, a plain sentence) for the person's state; ``leaving_event`` is
    why an excluded person left (``selectors.my_page`` reads it)."""
    state = prepatient.state
    if state == PrepatientState.ACTIVE:
        return _("Taking part"), _("You are taking part in the programme.")
    if state == PrepatientState.COMPLETED:
        return _("Completed"), _("You have completed the programme. Thank you for taking "
                                 "part.")
    if state == PrepatientState.DROPPED_OUT:
        return _("Left the programme"), _("You have left the programme.")
    if state == PrepatientState.EXCLUDED:
        event = leaving_event
        label = _("No longer taking part")
        if event is None:
            return label, _("You are no longer taking part in the programme.")
        when = long_date(event.on)
        if event.reason == ExclusionReason.CONSENT_WITHDRAWN:
            return label, _("You withdrew your consent on %(date)s, so you are no longer "
                            "taking part in the programme.") % {"date": when}
        if event.reason == ExclusionReason.MISSED_FOLLOWUP:
            return label, _("Since %(date)s you are no longer taking part in the programme, "
                            "because follow-up results were missing.") % {"date": when}
        return label, _("Since %(date)s you are no longer taking part in the programme. "
                        "Reason: %(reason)s.") % {"date": when,
                                                  "reason": event.get_reason_display()}
    return str(prepatient.get_state_display()), ""


class MyPageView(NeverCacheMixin, PrepatientMixin, TemplateView):
    template_name = "site/mypage/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = selectors.my_page(prepatient=self.prepatient)
        prepatient = page.prepatient
        context.update(withdrawn_on=page.withdrawn_on)
        if not prepatient.is_enrolled:
            current = next((step for step in context.get("steps", []) if step.current), None)
            context.update(continue_url=step_url(prepatient), continue_step=current)
            return context
        programme = prepatient.programme
        assert prepatient.enrolled_on is not None
        today = clock.today()
        provider = prepatient.current_provider
        lost = provider is not None and not provider.is_authorized
        window_end = switch_window_end(prepatient.enrolled_on, programme.switch_months)
        label, sentence = state_words(prepatient, page.leaving_event)
        active = prepatient.state == PrepatientState.ACTIVE
        context.update(
            prepatient=prepatient, programme=programme, provider=provider,
            state_label=label, state_sentence=sentence, active=active,
            listed_since=page.listed_since,
            provider_lost_authorization=lost, window_end=window_end,
            switch_open=switch_possible(prepatient=prepatient, today=today),
            outcomes=outcome_charts(prepatient, page, translation.get_language() or "sv"),
            ratings=list(page.ratings),
            next_due=page.next_due, overdue=page.overdue,
        )
        return context


# --- Consents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    kind: str
    label: str
    valid: bool
    given: ConsentEvent | None  # the latest grant
    withdrawn: ConsentEvent | None  # a withdrawal after it


def consent_states(prepatient: Prepatient, events: list[ConsentEvent]) -> list[ConsentState]:
    states = []
    for kind, label in ConsentKind.choices:
        own = [event for event in events if event.kind == kind]
        given = next((e for e in reversed(own) if e.action == ConsentAction.GRANT), None)
        withdrawn = (next((e for e in reversed(own) if e.action == ConsentAction.WITHDRAW
                           and given is not None and (e.at, e.pk) > (given.at, given.pk)), None))
        valid = prepatient.consent_valid if kind == ConsentKind.DATA_SHARING \
            else prepatient.research_consent
        states.append(ConsentState(kind=kind, label=str(label), valid=valid, given=given,
                                   withdrawn=withdrawn))
    return states


class ConsentsView(SubmitOnceMixin, NeverCacheMixin, PrepatientMixin, TemplateView):
    """The consents given, their texts, and the optional research donation."""

    template_name = "site/mypage/consents.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = selectors.consents_page(prepatient=self.prepatient)
        prepatient = page.prepatient
        context.update(
            prepatient=prepatient, events=page.events,
            states=consent_states(prepatient, page.events),
            texts=page.texts, research_text=page.research_text,
            consent_url=step_url(prepatient) if not prepatient.is_enrolled else "",
        )
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ResearchConsentForm(request.POST)
        prepatient = self.prepatient
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(
                error=_("Something went wrong. Please try again.")))
        try:
            if form.cleaned_data["action"] == ResearchConsentForm.GIVE:
                services.research_donation_give(prepatient=prepatient,
                                                version=form.cleaned_data["version"])
                messages.success(request, _("Thank you. You now donate your data to research."))
            else:
                consent_withdraw(prepatient=prepatient, kind=ConsentKind.RESEARCH,
                                 actor=request.user)
                messages.success(request, _("You no longer donate your data to research."))
        except DomainError as error:
            return self.render_to_response(self.get_context_data(error=error.message))
        return redirect("site:consents")


class WithdrawView(SubmitOnceMixin, NeverCacheMixin, PrepatientMixin, FormView):
    """Withdrawing data-sharing consent, with what it means said plainly first."""

    template_name = "site/mypage/withdraw.html"
    form_class = WithdrawConsentForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = prepatient_detail(prepatient=self.prepatient)
        context.update(enrolled=prepatient.is_enrolled,
                       may_switch=switch_possible(prepatient=prepatient),
                       active=prepatient.state == PrepatientState.ACTIVE,
                       research=prepatient.research_consent,
                       has_consent=prepatient.consent_valid)
        return context

    def form_valid(self, form: WithdrawConsentForm) -> HttpResponse:
        try:
            consent_withdraw(prepatient=self.prepatient, kind=ConsentKind.DATA_SHARING,
                             actor=self.request.user)
        except DomainError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, _("Your consent is withdrawn. Your provider no longer "
                                         "sees your data."))
        return redirect("site:mypage")


# --- My data (GDPR access) ----------------------------------------------------------------


class MyDataView(NeverCacheMixin, PrepatientMixin, TemplateView):
    """GDPR access: a page that explains the download, and the download itself."""

    template_name = "site/mypage/mydata.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("download") != "json":
            return super().get(request, *args, **kwargs)
        data = selectors.personal_data_export(prepatient=self.prepatient, user=request.user)
        body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        response = HttpResponse(body.encode("utf-8"),
                                content_type="application/json; charset=utf-8")
        filename = f"my-data-{self.prepatient.pseudonym}-{clock.today().isoformat()}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
