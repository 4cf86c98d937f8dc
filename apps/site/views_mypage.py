"""My page: the person's own state, provider, follow-up, HbA1c, consents and data.

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
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from apps.consent.models import ConsentAction, ConsentEvent, ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.errors import DomainError
from apps.measurements.models import ReporterKind
from apps.measurements.selectors import SeriesPoint
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
from prevention_engine.dates import switch_window_end


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
class HbA1cRow:
    taken_on: date
    value: Decimal
    source: str


def hba1c_rows(prepatient: Prepatient, series: Iterable[SeriesPoint]) -> list[HbA1cRow]:
    """Every current HbA1c value, oldest first, starting with the blood test that let
    the person in (unless the same day's value is also stored as a measurement)."""
    rows = [HbA1cRow(taken_on=point.taken_on, value=point.value, source=_source(point.source))
            for point in series]
    baseline = prepatient.baseline_sample
    if (baseline is not None and baseline.measure == prepatient.programme.outcome_measure
            and all(row.taken_on != baseline.taken_on for row in rows)):
        rows.insert(0, HbA1cRow(
            taken_on=baseline.taken_on, value=baseline.value,
            source=(_("Laboratory, before you joined") if baseline.source == SampleSource.LAB
                    else _("You, checked by staff, before you joined"))))
    return sorted(rows, key=lambda row: row.taken_on)


def _number(value: Decimal) -> float:
    return float(value)


def chart_data(rows: list[HbA1cRow], target: Decimal) -> dict[str, Any]:
    """What the chart script draws (the same figures as the table)."""
    return {
        "labels": [date_format(row.taken_on, "j M Y") for row in rows],
        "values": [_number(row.value) for row in rows],
        "target": _number(target),
        "valueLabel": _("Your HbA1c (mmol/mol)"),
        "targetLabel": _("Target: below %(target)s mmol/mol") % {
            "target": f"{target.normalize():f}"},
        "axisLabel": "mmol/mol",
    }


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
        rows = hba1c_rows(prepatient, page.hba1c)
        label, sentence = state_words(prepatient, page.leaving_event)
        active = prepatient.state == PrepatientState.ACTIVE
        context.update(
            prepatient=prepatient, programme=programme, provider=provider,
            state_label=label, state_sentence=sentence, active=active,
            listed_since=page.listed_since,
            provider_lost_authorization=lost, window_end=window_end,
            switch_open=switch_possible(prepatient=prepatient, today=today),
            hba1c_rows=rows, chart=chart_data(rows, programme.outcome_below) if rows else None,
            target=programme.outcome_below,
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
