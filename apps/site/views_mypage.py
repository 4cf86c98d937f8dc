"""My page: the person's own state, provider, follow-up, HbA1c, consents and data.

Every query here starts from the signed-in person's own record
(``PrepatientMixin.prepatient``); nothing takes a person's id from the URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from apps.consent.errors import ConsentConflict
from apps.consent.models import ConsentAction, ConsentEvent, ConsentKind, ConsentText
from apps.consent.services import consent_grant, consent_text_current, consent_withdraw
from apps.core import clock
from apps.core.errors import DomainError
from apps.measurements.models import (
    FollowUpDue,
    Measurement,
    MeasurementType,
    ReporterKind,
    SafetyNotice,
)
from apps.measurements.selectors import hba1c_series
from apps.measurements.services import followup_status
from apps.providers.models import Provider
from apps.registry import ratings
from apps.registry.models import (
    ExclusionReason,
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    Prepatient,
    PrepatientState,
    ProviderRating,
    SampleSource,
)
from apps.site.forms_marketplace import ResearchConsentForm, WithdrawConsentForm
from apps.site.mixins import PrepatientMixin, SubmitOnceMixin
from apps.site.views_marketplace import NeverCacheMixin, long_date, step_url
from prevention_engine import followup
from prevention_engine.dates import switch_allowed, switch_window_end


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


def hba1c_rows(prepatient: Prepatient) -> list[HbA1cRow]:
    """Every current HbA1c value, oldest first, starting with the blood test that let
    the person in (unless the same day's value is also stored as a measurement)."""
    rows = [HbA1cRow(taken_on=point.taken_on, value=point.value, source=_source(point.source))
            for point in hba1c_series(prepatient)]
    baseline = prepatient.baseline_sample
    if baseline is not None and all(row.taken_on != baseline.taken_on for row in rows):
        rows.insert(0, HbA1cRow(
            taken_on=baseline.taken_on, value=baseline.hba1c,
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


def state_words(prepatient: Prepatient) -> tuple[str, str]:
    """(a short label, a plain sentence) for the person's state."""
    state = prepatient.state
    if state == PrepatientState.ACTIVE:
        return _("Taking part"), _("You are taking part in the programme.")
    if state == PrepatientState.COMPLETED:
        return _("Completed"), _("You have completed the programme. Thank you for taking "
                                 "part.")
    if state == PrepatientState.DROPPED_OUT:
        return _("Left the programme"), _("You have left the programme.")
    if state == PrepatientState.EXCLUDED:
        event = (LifecycleEvent.objects.filter(
            prepatient=prepatient,
            type__in=[LifecycleEventType.EXCLUDED, LifecycleEventType.CONSENT_WITHDRAWN])
            .order_by("-created_at", "-pk").first())
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


def consent_withdrawn_on(prepatient: Prepatient) -> date | None:
    """When data-sharing consent was last withdrawn, if it is not valid now."""
    if prepatient.consent_valid:
        return None
    event = (ConsentEvent.objects.filter(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
             .order_by("-at", "-pk").first())
    if event is None or event.action != ConsentAction.WITHDRAW:
        return None
    return timezone.localdate(event.at)


def _followups(prepatient: Prepatient) -> dict[str, Any]:
    """The next open due date, and a missed one whose grace period still runs,
    each with what is still to be measured."""
    if prepatient.state != PrepatientState.ACTIVE:
        return {}
    status = followup_status(prepatient=prepatient)
    today = clock.today()
    grace = prepatient.programme.followup_grace_days
    upcoming = next((row for row in status if not row["complete"] and row["due_on"] >= today),
                    None)
    # A deadline that passed before a reinstatement was forgiven; one still running counts.
    overdue = next((row for row in reversed(status)
                    if row["overdue"] and not followup.exclusion_due(
                        due_on=row["due_on"], complete=row["complete"], today=today,
                        grace_days=grace)), None)
    codes = {code for row in (upcoming, overdue) if row for code in row["missing"]}
    names = {item.code: item.name for item in MeasurementType.objects.filter(code__in=codes)}

    def named(row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {**row, "missing_names": [names.get(code, code) for code in row["missing"]],
                "deadline": followup.exclusion_deadline(due_on=row["due_on"],
                                                        grace_days=grace)}

    return {"next_due": named(upcoming), "overdue": named(overdue)}


class MyPageView(NeverCacheMixin, PrepatientMixin, TemplateView):
    template_name = "site/mypage/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = self.prepatient
        context.update(withdrawn_on=consent_withdrawn_on(prepatient))
        if not prepatient.is_enrolled:
            current = next((step for step in context.get("steps", []) if step.current), None)
            context.update(continue_url=step_url(prepatient), continue_step=current)
            return context
        prepatient = (Prepatient.objects.select_related("programme", "current_provider",
                                                        "baseline_sample")
                      .get(pk=prepatient.pk))
        programme = prepatient.programme
        assert prepatient.enrolled_on is not None
        today = clock.today()
        provider = prepatient.current_provider
        lost = provider is not None and not provider.is_authorized
        window_end = switch_window_end(prepatient.enrolled_on, programme.switch_months)
        listing = (Listing.objects.filter(prepatient=prepatient).order_by("-valid_from", "-pk")
                   .first())
        rows = hba1c_rows(prepatient)
        label, sentence = state_words(prepatient)
        active = prepatient.state == PrepatientState.ACTIVE
        context.update(
            prepatient=prepatient, programme=programme, provider=provider,
            state_label=label, state_sentence=sentence, active=active,
            listed_since=listing.valid_from if listing else None,
            provider_lost_authorization=lost, window_end=window_end,
            switch_open=active and switch_allowed(
                enrolled_on=prepatient.enrolled_on, switch_months=programme.switch_months,
                today=today, provider_lost_authorization=lost),
            hba1c_rows=rows, chart=chart_data(rows, programme.outcome_below) if rows else None,
            target=programme.outcome_below,
            ratings=self._ratings(prepatient),
            **_followups(prepatient),
        )
        return context

    def _ratings(self, prepatient: Prepatient) -> list[dict[str, Any]]:
        rateable = ratings.rateable_providers(prepatient)
        if not rateable:
            return []
        providers = Provider.objects.in_bulk([pk for pk, _opens in rateable])
        given = {rating.provider_id: rating for rating in
                 ProviderRating.objects.filter(prepatient=prepatient)}
        today = clock.today()
        return [{"provider": providers[pk], "opens_on": opens,
                 "open": opens <= today and prepatient.consent_valid,
                 "rating": given.get(pk)} for pk, opens in rateable if pk in providers]


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
        prepatient = Prepatient.objects.select_related("programme").get(pk=self.prepatient.pk)
        events = list(ConsentEvent.objects.filter(prepatient=prepatient)
                      .select_related("text").order_by("at", "pk"))
        texts: dict[int, ConsentText] = {}
        for event in events:
            if event.text is not None:
                texts.setdefault(event.text.pk, event.text)
        research_text = consent_text_current(programme=prepatient.programme,
                                             kind=ConsentKind.RESEARCH)
        context.update(
            prepatient=prepatient, events=events, states=consent_states(prepatient, events),
            texts=sorted(texts.values(), key=lambda text: (text.kind, text.version)),
            research_text=research_text,
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
                text = consent_text_current(programme=prepatient.programme,
                                            kind=ConsentKind.RESEARCH)
                if text is None or text.version != form.cleaned_data["version"]:
                    raise ConsentConflict(_("The text has been updated. Please read the new "
                                            "version."))
                consent_grant(prepatient=prepatient, text=text)
                messages.success(request, _("Thank you. You now donate your data to research."))
            else:
                consent_withdraw(prepatient=prepatient, kind=ConsentKind.RESEARCH,
                                 actor=request.user)
                messages.success(request, _("You no longer donate your data to research."))
        except DomainError as error:
            return self.render_to_response(self.get_context_data(error=error.message))
        return redirect("site:consents")


def _may_switch(prepatient: Prepatient) -> bool:
    """An active person who could switch provider today instead of leaving."""
    if prepatient.state != PrepatientState.ACTIVE or prepatient.enrolled_on is None:
        return False
    current = prepatient.current_provider
    return switch_allowed(
        enrolled_on=prepatient.enrolled_on, switch_months=prepatient.programme.switch_months,
        today=clock.today(), provider_lost_authorization=current is not None
        and not current.is_authorized)


class WithdrawView(SubmitOnceMixin, NeverCacheMixin, PrepatientMixin, FormView):
    """Withdrawing data-sharing consent, with what it means said plainly first."""

    template_name = "site/mypage/withdraw.html"
    form_class = WithdrawConsentForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = (Prepatient.objects.select_related("programme", "current_provider")
                      .get(pk=self.prepatient.pk))
        context.update(enrolled=prepatient.is_enrolled, may_switch=_may_switch(prepatient),
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


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def export_data(prepatient: Prepatient, user: Any) -> dict[str, Any]:
    """Everything stored about the person, readable (never hashes or keys)."""
    prepatient = (Prepatient.objects.select_related("programme", "current_provider")
                  .get(pk=prepatient.pk))
    measurements = (Measurement.objects.filter(prepatient=prepatient)
                    .select_related("type", "superseded_by").order_by("taken_on", "pk"))
    return {
        "exported_at": _iso(clock.now()),
        "account": {"email": user.email, "created": _iso(user.date_joined)},
        "programme": {"code": prepatient.programme.code, "name": prepatient.programme.name},
        "programme_id": prepatient.pseudonym,
        "personnummer": prepatient.personnummer,
        "birth_date": _iso(prepatient.birth_date),
        "sex": prepatient.sex or None,
        "registered_postcode": prepatient.postcode or None,
        "lives_in_vulnerable_area": prepatient.in_vulnerable_area,
        "state": prepatient.state,
        "data_sharing_consent_valid": prepatient.consent_valid,
        "research_donation": prepatient.research_consent,
        "registered": _iso(prepatient.created_at),
        "enrolled_on": _iso(prepatient.enrolled_on),
        "programme_ends_on": _iso(prepatient.end_date),
        "current_provider": prepatient.current_provider.name if prepatient.current_provider
        else None,
        "baseline_sample_taken_on": _iso(prepatient.baseline_sample.taken_on)
        if prepatient.baseline_sample else None,
        "screenings": [{
            "submitted": _iso(s.submitted_at), "age": s.age, "height_cm": s.height_cm,
            "weight_kg": s.weight_kg, "waist_cm": s.waist_cm, "bmi": s.bmi,
            "physically_active_30_minutes_daily": s.physically_active,
            "vegetables_fruit_or_berries_daily": s.eats_vegetables_daily,
            "ever_on_blood_pressure_medication": s.antihypertensive_medication,
            "ever_high_blood_glucose": s.high_glucose_history,
            "family_history_of_diabetes": s.family_history, "findrisc_score": s.score,
        } for s in prepatient.screenings.order_by("submitted_at", "pk")],
        "inclusion_samples": [{
            "hba1c_mmol_mol": s.hba1c, "taken_on": _iso(s.taken_on),
            "received": _iso(s.received_at), "source": s.source,
            "lab_sample_id": s.lab_reference or None, "verified": _iso(s.verified_at),
        } for s in prepatient.inclusion_samples.order_by("taken_on", "pk")],
        "referral_codes": [{
            "code_ends_with": r.hint, "issued": _iso(r.issued_at),
            "expires": _iso(r.expires_at), "used": _iso(r.used_at),
        } for r in prepatient.referral_codes.order_by("issued_at", "pk")],
        "measurements": [{
            "id": m.pk, "type": m.type.code, "value": m.value, "unit": m.type.canonical_unit,
            "reported_value": m.reported_value, "reported_unit": m.reported_unit,
            "taken_on": _iso(m.taken_on), "received": _iso(m.received_at),
            "source": m.reporter_kind, "corrects": m.supersedes_id,
            "superseded": hasattr(m, "superseded_by"), "note": m.note or None,
        } for m in measurements],
        "follow_up_due_dates": [{
            "number": f.index, "due_on": _iso(f.due_on), "window_from": _iso(f.window_start),
            "window_to": _iso(f.window_end), "complete_since": _iso(f.completed_at),
        } for f in FollowUpDue.objects.filter(prepatient=prepatient).order_by("index")],
        "safety_notices": [{
            "raised": _iso(n.raised_at), "value_taken_on": _iso(n.measurement.taken_on),
            "hba1c_mmol_mol": n.measurement.value, "you_were_told": _iso(n.prepatient_notified_at),
            "closed": n.closed_by_id is not None,
        } for n in SafetyNotice.objects.filter(prepatient=prepatient)
            .select_related("measurement").order_by("raised_at", "pk")],
        "listings": [{
            "provider": item.provider.name, "from": _iso(item.valid_from),
            "reason": item.reason, "recorded": _iso(item.created_at),
        } for item in prepatient.listings.select_related("provider").order_by("valid_from", "pk")],
        "lifecycle_events": [{
            "event": e.type, "on": _iso(e.on), "reason": e.reason or None, "note": e.note or None,
        } for e in prepatient.lifecycle_events.order_by("created_at", "pk")],
        "consent_events": [{
            "kind": e.kind, "action": e.action,
            "text_version": e.text.version if e.text else None, "channel": e.channel,
            "at": _iso(e.at),
        } for e in prepatient.consent_events.select_related("text").order_by("at", "pk")],
        "ratings": [{
            "provider": r.provider.name, "stars": r.stars, "comment": r.comment or None,
            "given": _iso(r.created_at), "changed": _iso(r.updated_at),
        } for r in prepatient.ratings.select_related("provider").order_by("created_at", "pk")],
    }


class MyDataView(NeverCacheMixin, PrepatientMixin, TemplateView):
    """GDPR access: a page that explains the download, and the download itself."""

    template_name = "site/mypage/mydata.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("download") != "json":
            return super().get(request, *args, **kwargs)
        data = export_data(self.prepatient, request.user)
        body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        response = HttpResponse(body.encode("utf-8"),
                                content_type="application/json; charset=utf-8")
        filename = f"my-data-{self.prepatient.pseudonym}-{clock.today().isoformat()}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
