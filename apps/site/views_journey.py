"""The way into the programme (SPEC §3.1): consent, personnummer, questionnaire,
blood test and result.

Each page says when a person may be on it (``allowed``); anyone else is sent
to where they continue (``journey.next_step``), so a page is never shown out of
order and a step already passed is not done twice. Every change goes through
the domain services; refusals are shown on the field they concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from apps.consent.errors import ConsentConflict
from apps.consent.models import ConsentKind, ConsentText
from apps.consent.selectors import consent_text_current
from apps.core import clock
from apps.core.crypto import decrypt
from apps.core.errors import DomainError, InvalidInput
from apps.measurements.selectors import measurement_type_by_code
from apps.programs.selectors import programme_terms, referral_score_threshold
from apps.providers.selectors import labs_authorized
from apps.registry.errors import InvalidTransition
from apps.registry.models import Prepatient
from apps.registry.selectors import (
    inclusion_sample_pending_self,
    prepatient_referred,
    referral_is_active,
    referral_latest,
    screening_latest,
)
from apps.registry.services import (
    deciding_sample,
    inclusion_decide,
    inclusion_sample_record_self,
    prepatient_set_identity,
    referral_issue,
    screening_answer,
)
from apps.site import journey, selectors, services
from apps.site.errors import QuestionnaireIncomplete
from apps.site.forms_journey import (
    AnswersForm,
    BodyForm,
    ConsentForm,
    FamilyForm,
    HabitsForm,
    HistoryForm,
    IdentityForm,
    MeasureField,
    QuestionnairePartForm,
    SelfValueForm,
    add_domain_error,
)
from apps.site.mixins import PrepatientMixin, SubmitOnceMixin
from apps.site.models import QuestionnaireDraft
from prevention_engine import questionnaire as questionnaire_rules
from prevention_engine.dates import age_on

# The plaintext of a just-issued referral code, kept for one display only.
REFERRAL_SESSION_KEY = "journey_referral_code"
# A personnummer verified by Swedish e-identification (encrypted with the field
# keys), put here by the OpenID Connect extension point (docs/oidc.md).
VERIFIED_PERSONNUMMER_SESSION_KEY = "eid_personnummer"


# --- What a page says about where a person is -----------------------------------------


@dataclass(frozen=True)
class RiskBand:
    """What a FINDRISC score means (the questionnaire's own published bands)."""

    label: str | Promise
    ten_year_risk: str | Promise


def risk_band(score: int) -> RiskBand:
    if score < 7:
        return RiskBand(_("low"), _("about 1 in 100"))
    if score <= 11:
        return RiskBand(_("slightly raised"), _("about 1 in 25"))
    if score <= 14:
        return RiskBand(_("moderate"), _("about 1 in 6"))
    if score <= 20:
        return RiskBand(_("high"), _("about 1 in 3"))
    return RiskBand(_("very high"), _("about 1 in 2"))


def postcode_display(postcode: str) -> str:
    return f"{postcode[:3]} {postcode[3:]}" if len(postcode) == 5 else postcode


# --- The base page ------------------------------------------------------------------


class JourneyView(PrepatientMixin, TemplateView):
    """A signed-in page of the way in; sends the person on when they are not due here."""

    def allowed(self) -> bool:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated and not user.is_staff and not self.allowed():
            response: HttpResponseBase = redirect(journey.next_step(self.prepatient))
        else:
            response = super().dispatch(request, *args, **kwargs)
        # Pages about a person's health and identity are never kept in caches.
        add_never_cache_headers(response)
        return response

    def render_page(self, **context: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**context))


# --- 1. Consent ---------------------------------------------------------------------


class ConsentView(SubmitOnceMixin, JourneyView):
    template_name = "site/journey/consent.html"

    def allowed(self) -> bool:
        return not (self.prepatient.consent_valid or self.prepatient.is_enrolled)

    def texts(self) -> tuple[ConsentText | None, ConsentText | None]:
        programme = self.prepatient.programme
        return (consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING),
                consent_text_current(programme=programme, kind=ConsentKind.RESEARCH))

    def fresh_form(self, *, research: bool = False) -> ConsentForm:
        data_text, research_text = self.texts()
        return ConsentForm(initial={
            "data_text": data_text.pk if data_text else None,
            "research_text": research_text.pk if research_text else None,
            "research": research,
        })

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["data_text"], context["research_text"] = self.texts()
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_page(form=self.fresh_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ConsentForm(request.POST)
        data_text, _research_text = self.texts()
        if data_text is None:
            return self.render_page(form=form)
        if not form.is_valid():
            return self.render_page(form=form)
        wants_research = bool(form.cleaned_data["research"])
        try:
            prepatient = services.consents_give(prepatient=self.prepatient,
                                                data_sharing_text=form.cleaned_data["data_text"],
                                                research_text=form.cleaned_data["research_text"],
                                                research=wants_research)
        except ConsentConflict as error:
            if error.code == "consent_text_outdated":
                # A new version was published while the person read: show it, ask again.
                return self.render_page(form=self.fresh_form(research=wants_research),
                                        text_updated=True)
            form.add_error(None, error.message)
            return self.render_page(form=form)
        if wants_research:
            messages.success(request, _("Thank you. Your consent and your research donation "
                                        "are saved."))
        else:
            messages.success(request, _("Thank you. Your consent is saved."))
        return redirect(journey.next_step(prepatient))


# --- 2. Personnummer ------------------------------------------------------------------


class IdentityView(SubmitOnceMixin, JourneyView):
    template_name = "site/journey/identity.html"

    def allowed(self) -> bool:
        prepatient = self.prepatient
        return (prepatient.consent_valid and not prepatient.is_enrolled
                and prepatient.birth_date is None)

    def verified_number(self) -> str | None:
        """A personnummer from e-identification, if this person's sign-in brought one.

        The stash is ``{"user": <account id>, "value": <encrypted personnummer>}``
        (see docs/oidc.md); one left by another account in the same browser is
        dropped, never offered.
        """
        session = self.request.session
        stash = session.get(VERIFIED_PERSONNUMMER_SESSION_KEY)
        if stash is None:
            return None
        if not isinstance(stash, dict) or stash.get("user") != self.request.user.pk:
            session.pop(VERIFIED_PERSONNUMMER_SESSION_KEY, None)
            return None
        try:
            return decrypt(str(stash.get("value", "")))
        except InvalidToken:  # a key rotated away or a damaged value: ask instead
            session.pop(VERIFIED_PERSONNUMMER_SESSION_KEY, None)
            return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        number = self.verified_number()
        context["verified_masked"] = f"{number[:6]}**-****" if number else None
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_page(form=IdentityForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("use_verified"):
            return self._use_verified()
        form = IdentityForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form)
        try:
            prepatient_set_identity(prepatient=self.prepatient,
                                    personnummer=form.cleaned_data["personnummer"])
        except InvalidTransition:
            return redirect(journey.next_step(self.prepatient))
        except DomainError as error:
            # The service's own words, on the field: the reason a number was refused,
            # "not found in the register", or "already registered" with what to do.
            longer = {"personnummer": error.message} if error.code == "personnummer_taken" else {}
            add_domain_error(form, error, longer)
            return self.render_page(form=form)
        return redirect("site:identity_done")

    def _use_verified(self) -> HttpResponse:
        number = self.verified_number()
        self.request.session.pop(VERIFIED_PERSONNUMMER_SESSION_KEY, None)
        if number is None:
            return redirect("site:identity")
        try:
            prepatient_set_identity(prepatient=self.prepatient, personnummer=number)
        except InvalidTransition:
            return redirect(journey.next_step(self.prepatient))
        except DomainError as error:
            # Shown as a notice: the number came from the e-identification, not a field.
            return self.render_page(form=IdentityForm(), verified_error=error.message)
        return redirect("site:identity_done")


class IdentityDoneView(JourneyView):
    """The result of the check: the registered postcode and the priority rule."""

    template_name = "site/journey/identity_done.html"

    def allowed(self) -> bool:
        prepatient = self.prepatient
        return (prepatient.consent_valid and prepatient.birth_date is not None
                and not prepatient.is_enrolled
                and screening_latest(prepatient=prepatient) is None)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = self.prepatient
        assert prepatient.birth_date is not None
        way = journey.way_in(prepatient.programme)
        context.update(
            postcode=postcode_display(prepatient.postcode),
            age=age_on(prepatient.birth_date, clock.today()),
            recruitment=selectors.recruitment(prepatient),
            asks_questions=bool(way.questionnaires), step=way.step_label,
        )
        return context


# --- 3. The questionnaire ------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    number: int
    title: str | Promise
    form_class: type[QuestionnairePartForm] | None  # None: the summary


PARTS = [
    Part(1, _("Your body"), BodyForm),
    Part(2, _("Your daily habits"), HabitsForm),
    Part(3, _("Your health so far"), HistoryForm),
    Part(4, _("Diabetes in your family"), FamilyForm),
    Part(5, _("Check and send"), None),
]
QUESTION_PARTS = [part for part in PARTS if part.form_class is not None]
SUMMARY = PARTS[-1]


def draft_of(prepatient: Prepatient) -> QuestionnaireDraft | None:
    return selectors.questionnaire_draft(prepatient=prepatient)


def first_unanswered(answers: dict[str, Any]) -> Part:
    for part in QUESTION_PARTS:
        assert part.form_class is not None
        if any(answers.get(name) in (None, "") for name in part.form_class.base_fields):
            return part
    return SUMMARY


def _shown_number(value: str) -> str:
    """A stored decimal as the reader writes it (a decimal comma in Swedish)."""
    if value.endswith(".0"):
        value = value[:-2]
    return value.replace(".", ",") if translation.get_language() == "sv" else value


class QuestionnaireStartView(JourneyView):
    """Resumes at the first part without answers."""

    def allowed(self) -> bool:
        return (journey.way_in(self.prepatient.programme).screening_form
                and selectors.may_answer_questionnaire(self.prepatient))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        draft = draft_of(self.prepatient)
        part = first_unanswered(draft.answers if draft else {})
        return redirect("site:questionnaire_part", part=part.number)


class QuestionnairePartView(SubmitOnceMixin, JourneyView):
    template_name = "site/journey/questionnaire_part.html"

    def allowed(self) -> bool:
        return (journey.way_in(self.prepatient.programme).screening_form
                and selectors.may_answer_questionnaire(self.prepatient))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        number = kwargs["part"]
        if not 1 <= number <= len(PARTS):
            return redirect("site:questionnaire")
        self.part = PARTS[number - 1]
        return super().dispatch(request, *args, **kwargs)

    @property
    def answers(self) -> dict[str, Any]:
        draft = draft_of(self.prepatient)
        return dict(draft.answers) if draft else {}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = self.prepatient
        assert prepatient.birth_date is not None
        context.update(
            part=self.part, parts=PARTS, part_count=len(PARTS),
            previous=PARTS[self.part.number - 2] if self.part.number > 1 else None,
            age=age_on(prepatient.birth_date, clock.today()),
            sex=prepatient.get_sex_display(),
        )
        return context

    def _initial(self, answers: dict[str, Any]) -> dict[str, Any]:
        assert self.part.form_class is not None
        initial = {}
        for name, field in self.part.form_class.base_fields.items():
            value = answers.get(name)
            if value is not None:
                initial[name] = _shown_number(value) if isinstance(field, MeasureField) else value
        return initial

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        answers = self.answers
        resume = first_unanswered(answers)
        if self.part.number > resume.number:
            return redirect("site:questionnaire_part", part=resume.number)
        if self.part.form_class is None:
            return self.render_summary(answers)
        return self.render_page(form=self.part.form_class(initial=self._initial(answers)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.part.form_class is None:
            return self.submit()
        save_for_later = request.POST.get("action") == "save"
        form = self.part.form_class(request.POST, partial=save_for_later)
        if not form.is_valid():
            return self.render_page(form=form)
        services.questionnaire_draft_save(prepatient=self.prepatient, answers=form.answers())
        if save_for_later:
            messages.success(request, _("Your answers are saved. When you sign in again, you "
                                        "continue where you left off."))
            return redirect("site:start")
        return redirect("site:questionnaire_part", part=self.part.number + 1)

    # The last part: a summary to check, then send.

    def summary_rows(self, answers: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for part in QUESTION_PARTS:
            assert part.form_class is not None
            form = part.form_class()
            for name, field in form.fields.items():
                value = answers.get(name, "")
                if isinstance(field, MeasureField):
                    shown: Any = _shown_number(value)
                else:
                    shown = dict(field.choices).get(value, value)  # type: ignore[attr-defined]
                rows.append({"label": field.label, "value": shown, "part": part})
        return rows

    def render_summary(self, answers: dict[str, Any], **extra: Any) -> HttpResponse:
        return self.render_page(rows=self.summary_rows(answers), **extra)

    def submit(self) -> HttpResponse:
        try:
            result = services.questionnaire_submit(prepatient=self.prepatient)
        except QuestionnaireIncomplete:
            return redirect("site:questionnaire")
        except InvalidTransition:
            return redirect(journey.next_step(self.prepatient))
        except InvalidInput as error:
            labels = {name: field.label for name, field in BodyForm.base_fields.items()}
            problems = [f"{labels.get(name, name)}: {message}"
                        for name, message in error.fields.items()]
            return self.render_summary(self.answers, problems=problems or [error.message])
        if result.referral_code:
            referral = result.referral
            self.request.session[REFERRAL_SESSION_KEY] = {
                "prepatient": self.prepatient.pk, "referral": referral.pk if referral else None,
                "code": result.referral_code,
            }
            return redirect("site:referral")
        return redirect("site:result")


# --- 4. The blood test -----------------------------------------------------------------


class ReferralView(SubmitOnceMixin, JourneyView):
    template_name = "site/journey/referral.html"

    def allowed(self) -> bool:
        prepatient = self.prepatient
        return (prepatient.consent_valid and not prepatient.is_enrolled
                and prepatient_referred(prepatient=prepatient)
                and deciding_sample(prepatient) is None)

    def self_measures(self) -> list[tuple[str, str, str]]:
        """(code, name, unit) of each measure the person may type in themselves."""
        way = journey.way_in(self.prepatient.programme)
        measures = []
        for code in way.self_measures:
            kind = measurement_type_by_code(code)
            measures.append((code, kind.name if kind else code,
                             kind.canonical_unit if kind else ""))
        return measures

    def page(self, *, self_form: SelfValueForm | None = None) -> HttpResponse:
        prepatient = self.prepatient
        request = self.request
        way = journey.way_in(prepatient.programme)
        referral = referral_latest(prepatient=prepatient)
        kept = request.session.pop(REFERRAL_SESSION_KEY, None)
        code = None
        if (isinstance(kept, dict) and kept.get("prepatient") == prepatient.pk
                and referral is not None and kept.get("referral") == referral.pk
                and referral_is_active(referral)):
            code = kept.get("code")
        screening = screening_latest(prepatient=prepatient)
        pending_self = inclusion_sample_pending_self(prepatient=prepatient)
        measures = self.self_measures()
        if self_form is None and measures and not pending_self:
            self_form = SelfValueForm(measures=measures,
                                      initial={"taken_on": clock.today().isoformat()})
        return self.render_page(
            code=code, referral=referral, from_lab=way.lab,
            active=referral_is_active(referral), screening=screening,
            band=risk_band(screening.score) if screening else None,
            labs=labs_authorized() if way.lab else [],
            self_reported=pending_self, self_form=self_form,
            step_label=way.step_label,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.page()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "self_value":
            return self._self_value()
        if not journey.way_in(self.prepatient.programme).lab:
            return redirect("site:referral")  # no laboratory: no code to give
        referral, code = referral_issue(prepatient=self.prepatient)
        request.session[REFERRAL_SESSION_KEY] = {
            "prepatient": self.prepatient.pk, "referral": referral.pk, "code": code,
        }
        messages.success(request, _("Here is your new code. The old code no longer works."))
        return redirect("site:referral")

    def _self_value(self) -> HttpResponse:
        measures = self.self_measures()
        if not measures or inclusion_sample_pending_self(prepatient=self.prepatient):
            return redirect("site:referral")
        form = SelfValueForm(self.request.POST, measures=measures)
        if not form.is_valid():
            return self.page(self_form=form)
        data = form.cleaned_data
        try:
            inclusion_sample_record_self(prepatient=self.prepatient, measure=data["measure"],
                                         value=data["value"], taken_on=data["taken_on"])
        except DomainError as error:
            add_domain_error(form, error)
            return self.page(self_form=form)
        messages.success(self.request, _("Thank you. Our staff check your value before it "
                                         "is used. Sign in again in a few days to see your "
                                         "result."))
        return redirect("site:referral")


# --- 3b. Any programme's screening questionnaires, from their definitions --------------


class AnswersView(SubmitOnceMixin, JourneyView):
    """The programme's screening questionnaires on one page, as their definitions
    have them (a programme whose screening is the site's screening form answers that)."""

    template_name = "site/journey/answers.html"

    def allowed(self) -> bool:
        prepatient = self.prepatient
        way = journey.way_in(prepatient.programme)
        return (prepatient.consent_valid and prepatient.birth_date is not None
                and not prepatient.is_enrolled and bool(way.questionnaires)
                and not way.screening_form
                and (not journey.answered(prepatient, way)
                     or not prepatient_referred(prepatient=prepatient)))

    def form(self, data: Any = None) -> AnswersForm:
        way = journey.way_in(self.prepatient.programme)
        return AnswersForm(data, questionnaires=[questionnaire_rules.parse(q.definition)
                                                 for q in way.questionnaires],
                           language=translation.get_language() or "sv")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_page(form=self.form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_page(form=form)
        try:
            issued = screening_answer(prepatient=self.prepatient, answers=form.answers())
        except DomainError as error:
            add_domain_error(form, error)
            return self.render_page(form=form)
        if issued is not None:
            referral, code = issued
            request.session[REFERRAL_SESSION_KEY] = {
                "prepatient": self.prepatient.pk, "referral": referral.pk, "code": code}
        messages.success(request, _("Thank you. Your answers are saved."))
        return redirect(journey.next_step(self.prepatient))


# --- The programmes a person may join ---------------------------------------------------


class ProgrammesView(TemplateView):
    """The programmes open to join, each in its definition's own words; choosing one
    is remembered for the visit and the way in follows its definition."""

    template_name = "site/journey/programmes.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chosen = journey.current_programme(self.request)
        context.update(cards=selectors.programme_cards(
                           translation.get_language() or "sv",
                           selectors.known_birth_date(self.request.user)),
                       chosen=chosen)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        programme = selectors.programme_open(str(request.POST.get("programme", "")))
        if programme is None:
            messages.error(request, _("That programme cannot be joined. Please choose one "
                                      "of the programmes below."))
            return redirect("site:programmes")
        request.session[journey.PROGRAMME_SESSION_KEY] = programme.code
        if request.user.is_authenticated and not request.user.is_staff:
            return redirect("site:next")
        return redirect("account_signup")


# --- 5. The result ---------------------------------------------------------------------

class ResultView(JourneyView):
    template_name = "site/journey/result.html"

    def allowed(self) -> bool:
        prepatient = self.prepatient
        return (prepatient.consent_valid and not prepatient.is_enrolled
                and prepatient.birth_date is not None and journey.answered(prepatient))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = self.prepatient
        way = journey.way_in(prepatient.programme)
        screening = screening_latest(prepatient=prepatient)
        sample = deciding_sample(prepatient)
        referred = prepatient_referred(prepatient=prepatient)
        if sample is not None or (referred and not way.measures):
            state = "decided"
        elif referred:
            state = "waiting"
        else:
            state = "low"
        decision = inclusion_decide(prepatient=prepatient) if state == "decided" else None
        referral = referral_latest(prepatient=prepatient)
        context.update(
            state=state, screening=screening,
            band=risk_band(screening.score) if screening and way.screening_form else None,
            bands=selectors.score_meanings(prepatient, translation.get_language() or "sv"),
            threshold=referral_score_threshold(programme_terms(prepatient.programme)),
            sample=sample, decision=decision,
            sample_type=measurement_type_by_code(sample.measure) if sample else None,
            heading=decision.heading if decision else None,
            reason=decision.reason if decision else None,
            referral=referral, referral_active=referral_is_active(referral),
            self_reported=inclusion_sample_pending_self(prepatient=prepatient),
            can_answer_again=state == "low" and (
                selectors.may_answer_questionnaire(prepatient) if way.screening_form
                else True),
            answers_url="site:questionnaire" if way.screening_form else "site:answers",
        )
        return context

