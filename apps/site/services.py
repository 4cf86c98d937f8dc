"""The prepatient site's writers: form tokens, questionnaire drafts, and the units of
work of the way in that call several domain services in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from apps.consent.errors import ConsentConflict
from apps.consent.models import ConsentKind, ConsentText
from apps.consent.services import consent_grant
from apps.core import clock
from apps.core.errors import Conflict
from apps.registry.models import Prepatient
from apps.registry.services import ScreeningResult, screening_submit
from apps.site import selectors
from apps.site.models import FormSubmission, QuestionnaireDraft
from prevention_engine.findrisc import FamilyHistory

KEEP_SUBMISSIONS = timedelta(days=30)

# Every answer the questionnaire asks for (the fields of its parts' forms).
QUESTIONNAIRE_ANSWERS = (
    "height_cm", "weight_kg", "waist_cm", "physically_active", "eats_vegetables_daily",
    "antihypertensive_medication", "high_glucose_history", "family_history",
)


class QuestionnaireIncomplete(Conflict):
    code = "questionnaire_incomplete"
    default_message = _("Some questions are not answered yet.")


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
                  research_text: int | None, research: bool) -> None:
    """The data-sharing consent, and the research donation when asked for, given on
    the versions the page showed (by id), both or neither.

    A version that is unknown, of another programme or no longer current raises
    ``ConsentConflict`` with the code ``consent_text_outdated``.
    """
    consent_grant(prepatient=prepatient,
                  text=_shown_text(prepatient, ConsentKind.DATA_SHARING, data_sharing_text))
    if research:
        consent_grant(prepatient=prepatient,
                      text=_shown_text(prepatient, ConsentKind.RESEARCH, research_text))


def _shown_text(prepatient: Prepatient, kind: ConsentKind, pk: int | None) -> ConsentText:
    text = selectors.consent_text_shown(prepatient=prepatient, kind=kind, pk=pk)
    if text is None:
        raise ConsentConflict(code="consent_text_outdated")
    return text


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
