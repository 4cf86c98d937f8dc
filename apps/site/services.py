"""The prepatient site's writers: form tokens, questionnaire drafts, and the units of
work of the way in, the marketplace and My page that call the domain services."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from apps.consent.errors import ConsentConflict
from apps.consent.models import ConsentEvent, ConsentKind, ConsentText
from apps.consent.selectors import consent_text_current, consent_text_shown
from apps.consent.services import consent_grant
from apps.core import clock
from apps.providers.models import Provider
from apps.registry.models import Prepatient
from apps.registry.services import (
    ScreeningResult,
    listing_switch,
    prepatient_enroll,
    screening_submit,
)
from apps.site.errors import QuestionnaireIncomplete
from apps.site.models import FormSubmission, QuestionnaireDraft
from prevention_engine.findrisc import FamilyHistory

KEEP_SUBMISSIONS = timedelta(days=30)

# Every answer the questionnaire asks for (the fields of its parts' forms).
QUESTIONNAIRE_ANSWERS = (
    "height_cm", "weight_kg", "waist_cm", "physically_active", "eats_vegetables_daily",
    "antihypertensive_medication", "high_glucose_history", "family_history",
)


# --- Form tokens (a POST handled once) -------------------------------------------------------


def form_submission_claim(*, token: str, user: Any, path: str) -> FormSubmission | None:
    """Records the token before its form is handled; None when it was seen before
    (the unique constraint refuses a concurrent repeat at the database)."""
    try:
        with transaction.atomic():
            return FormSubmission.objects.create(token=token, user=user, path=path[:200])
    except IntegrityError:
        return None


def form_submission_finish(*, submission: FormSubmission, result_url: str | None) -> None:
    """Keeps where a handled submission went, or frees the token of one that did not
    go anywhere (its form is shown again with a new token)."""
    if result_url is None:
        submission.delete()
        return
    submission.result_url = result_url[:300]
    submission.save(update_fields=["result_url"])


def form_submissions_purge(*, before: datetime | None = None) -> int:
    """Forgets form tokens older than 30 days (a repeat that late is a new request)."""
    before = before if before is not None else clock.now() - KEEP_SUBMISSIONS
    deleted, _by_model = FormSubmission.objects.filter(created_at__lt=before).delete()
    return deleted


# --- The way in --------------------------------------------------------------------------


@transaction.atomic
def consents_give(*, prepatient: Prepatient, data_sharing_text: int | None,
                  research_text: int | None, research: bool) -> Prepatient:
    """The data-sharing consent, and the research donation when asked for, given on
    the versions the page showed (by id), both or neither; returns the person's
    record as saved.

    A version that is unknown, of another programme or no longer current raises
    ``ConsentConflict`` with the code ``consent_text_outdated``.
    """
    event = consent_grant(prepatient=prepatient, text=_shown_text(
        prepatient, ConsentKind.DATA_SHARING, data_sharing_text))
    if research:
        event = consent_grant(prepatient=prepatient, text=_shown_text(
            prepatient, ConsentKind.RESEARCH, research_text))
    # consent_grant locks and saves the person's row; the event holds that record.
    return event.prepatient


def _shown_text(prepatient: Prepatient, kind: ConsentKind, pk: int | None) -> ConsentText:
    text = consent_text_shown(prepatient=prepatient, kind=kind, pk=pk)
    if text is None:
        raise ConsentConflict(code="consent_text_outdated")
    return text


@transaction.atomic
def research_donation_give(*, prepatient: Prepatient, version: int | None) -> ConsentEvent:
    """The research donation on the version of the text My page showed.

    A version that is no longer the current one raises ``ConsentConflict``.
    """
    text = consent_text_current(programme=prepatient.programme, kind=ConsentKind.RESEARCH)
    if text is None or text.version != version:
        raise ConsentConflict(_("The text has been updated. Please read the new version."))
    return consent_grant(prepatient=prepatient, text=text)


# --- The marketplace -----------------------------------------------------------------------


def provider_choose(*, prepatient: Prepatient, provider: Provider, actor: Any) -> Prepatient:
    """Enrolls the person with the provider (a first choice) or switches them to it
    (an enrolled person); returns the person's record as saved.

    The registry's refusals are raised as they are (``InclusionRefused``,
    ``ProviderNotAuthorized``, ``SwitchNotAllowed``, ``InvalidTransition``).
    """
    if prepatient.is_enrolled:
        return listing_switch(prepatient=prepatient, provider=provider, actor=actor).prepatient
    return prepatient_enroll(prepatient=prepatient, provider=provider, actor=actor)


@transaction.atomic
def questionnaire_draft_save(*, prepatient: Prepatient,
                             answers: dict[str, str | None]) -> QuestionnaireDraft:
    """Merges answers into the person's draft (None removes an answer)."""
    draft, _created = QuestionnaireDraft.objects.select_for_update().get_or_create(
        prepatient=prepatient)
    merged = dict(draft.answers)
    for name, value in answers.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    draft.answers = merged
    draft.updated_at = clock.now()
    draft.save()
    return draft


def questionnaire_complete(answers: dict[str, Any]) -> bool:
    return all(answers.get(name) not in (None, "") for name in QUESTIONNAIRE_ANSWERS)


@transaction.atomic
def questionnaire_submit(*, prepatient: Prepatient) -> ScreeningResult:
    """Sends the draft's answers as a screening and deletes the draft.

    The draft row is locked and deleted with the screening, so two tabs sending the
    same answers make one screening. Raises ``QuestionnaireIncomplete`` without a
    complete draft, and the screening's own errors (``InvalidTransition``,
    ``InvalidInput``) with nothing written.
    """
    draft = (QuestionnaireDraft.objects.select_for_update()
             .filter(prepatient=prepatient).first())
    answers = dict(draft.answers) if draft else {}
    if draft is None or not questionnaire_complete(answers):
        raise QuestionnaireIncomplete
    result = screening_submit(
        prepatient=prepatient,
        height_cm=Decimal(answers["height_cm"]),
        weight_kg=Decimal(answers["weight_kg"]),
        waist_cm=Decimal(answers["waist_cm"]),
        physically_active=answers["physically_active"] == "yes",
        eats_vegetables_daily=answers["eats_vegetables_daily"] == "yes",
        antihypertensive_medication=answers["antihypertensive_medication"] == "yes",
        high_glucose_history=answers["high_glucose_history"] == "yes",
        family_history=FamilyHistory(answers["family_history"]),
    )
    draft.delete()
    return result
