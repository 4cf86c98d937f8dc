"""Writing programme definitions and questionnaires: drafts, four-eyes publishing.

A definition is checked by the engine (``prevention_engine.definition``,
``prevention_engine.questionnaire``) against the measures the measurement app
registers and the published questionnaires; a refusal names the place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.programs import selectors, vocabulary
from apps.programs.errors import (
    DefinitionConflict,
    DefinitionInvalid,
    FourEyesRequired,
    VersionNotDraft,
)
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire
from apps.programs.signals import version_published
from prevention_engine import definition as programme_definition
from prevention_engine import questionnaire as questionnaire_definition


def questionnaire_publish(*, definition: Mapping[str, Any]) -> Questionnaire:
    """Publishes a questionnaire version (shipped definitions, loaded by the demo and
    deployments); the same definition again returns the published row."""
    try:
        parsed = questionnaire_definition.parse(definition)
    except questionnaire_definition.DefinitionError as error:
        raise DefinitionInvalid(fields={error.path: error.reason}) from None
    with transaction.atomic():
        existing = (Questionnaire.objects.select_for_update()
                    .filter(code=parsed.code, version=parsed.version).first())
        if existing is not None:
            if existing.definition != dict(definition):
                raise DefinitionConflict()
            return existing
        return Questionnaire.objects.create(
            code=parsed.code, version=parsed.version, definition=dict(definition),
            status=DefinitionStatus.PUBLISHED, published_at=clock.now())


def check_definition(programme: Programme, definition: Mapping[str, Any]) -> None:
    """``DefinitionInvalid`` naming the place when the definition cannot be evaluated
    here: its shape, its code, and every measure, unit and questionnaire it names."""
    try:
        terms = programme_definition.parse(definition, measures=vocabulary.known_measures(),
                                           questionnaires=selectors.questionnaire_codes())
    except programme_definition.DefinitionError as error:
        raise DefinitionInvalid(fields={error.path: error.reason}) from None
    if definition.get("code") != programme.code:
        raise DefinitionInvalid(fields={"code": _("must be the programme's code %(code)s")
                                        % {"code": programme.code}})
    if terms.cap < programme.enrolled_count:
        raise DefinitionInvalid(fields={"cap": _(
            "must be at least the %(count)s people already enrolled") % {
            "count": programme.enrolled_count}})


def programme_version_draft(*, programme: Programme, definition: Mapping[str, Any],
                            author: Any) -> ProgrammeVersion:
    """A new draft version of the programme: the next number, checked as it would be
    published."""
    with transaction.atomic():
        locked = Programme.objects.select_for_update().get(pk=programme.pk)
        number = (ProgrammeVersion.objects.filter(programme=locked)
                  .aggregate(last=Max("version"))["last"] or 0) + 1
        numbered = {**definition, "version": number}
        check_definition(locked, numbered)
        return ProgrammeVersion.objects.create(programme=locked, version=number,
                                               definition=numbered, created_by=author)


def definition_template() -> dict[str, Any]:
    """Where a new programme's definition starts: the current definition of the first
    programme, under a code and name to replace."""
    first = selectors.earliest_programme()
    current = selectors.programme_version_current(first) if first is not None else None
    base = dict(current.definition) if current is not None else {}
    return {**base, "code": "new-programme", "version": 1,
            "name": {"sv": "Nytt program", "en": "New programme"}}


def programme_define(*, definition: Mapping[str, Any], author: Any) -> ProgrammeVersion:
    """A new programme from its definition: the programme (its code and name) and the
    draft of its version 1, which another caseworker publishes."""
    code = definition.get("code") if isinstance(definition, Mapping) else None
    if not isinstance(code, str) or not code:
        raise DefinitionInvalid(fields={"code": _("a non-empty text")})
    names = definition.get("name")
    name = names.get("sv") if isinstance(names, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        raise DefinitionInvalid(fields={"name.sv": _("a non-empty text")})
    with transaction.atomic():
        if Programme.objects.filter(code=code).exists():
            raise DefinitionConflict(_("A programme with the code %(code)s already exists: "
                                       "a change is a new version of it.") % {"code": code})
        programme = Programme.objects.create(code=code, name=name.strip()[:200])
        return programme_version_draft(programme=programme, definition=definition,
                                       author=author)


def programme_version_publish(*, version: ProgrammeVersion, publisher: Any) -> ProgrammeVersion:
    """Publishes a draft; by another caseworker than its author (four eyes). From then
    on the version never changes."""
    with transaction.atomic():
        locked = ProgrammeVersion.objects.select_for_update().select_related(
            "programme").get(pk=version.pk)
        if locked.status != DefinitionStatus.DRAFT:
            raise VersionNotDraft()
        if publisher is None or publisher.pk == locked.created_by_id:
            raise FourEyesRequired()
        # The programme's row too: its cap against the enrolled count, as enrollment holds it.
        locked.programme = Programme.objects.select_for_update().get(pk=locked.programme_id)
        check_definition(locked.programme, locked.definition)  # what it names still exists
        locked.status = DefinitionStatus.PUBLISHED
        locked.published_by = publisher
        locked.published_at = clock.now()
        locked.save(update_fields=["status", "published_by", "published_at", "updated_at"])
        programme_figures_project(locked.programme, locked.definition)
        version_published.send(sender=ProgrammeVersion, version=locked)
        return locked


# The programme-wide figures of the current version, kept on the programme row: what
# enrollment locks and counts against, what the recruitment phases and the budget read
# and what the database's own queries join. Written only here, when a version is
# published; the rules of an enrollment are read from the version it joined under.
PROJECTED = ("start_date", "recruitment_months", "priority_months", "cap",
             "programme_months", "switch_months", "followup_interval_months",
             "followup_measures", "followup_grace_days", "reminder_days_before",
             "referral_valid_days", "outcome_criteria", "outcome_disqualifiers",
             "outcome_window_days", "payment_per_success", "currency", "floor_share",
             "ceiling_share", "min_attributed", "budget_authorization", "payments_from",
             "payments_until")


def programme_figures_project(programme: Programme, definition: Mapping[str, Any]) -> None:
    """Writes the published ``definition``'s programme-wide figures on ``programme``."""
    terms = programme_definition.parse(definition)
    timeline = terms.timeline
    figures: dict[str, Any] = {
        "start_date": timeline.start_date, "cap": terms.cap,
        **{name: getattr(timeline, name) for name in programme_definition.TIMELINE_FIELDS},
        "followup_measures": list(terms.followup_measures),
        "outcome_criteria": definition["outcome"]["criteria"],
        "outcome_disqualifiers": definition["outcome"].get("disqualifiers", []),
        "outcome_window_days": terms.outcome.window_days,
        "payment_per_success": terms.payment.per_success, "currency": terms.currency,
        "floor_share": terms.payment.floor_share, "ceiling_share": terms.payment.ceiling_share,
        "min_attributed": terms.payment.min_attributed, "budget_authorization": terms.budget,
        "payments_from": terms.payments_from, "payments_until": terms.payments_until,
    }
    Programme.objects.filter(pk=programme.pk).update(**figures)
    for name, value in figures.items():
        setattr(programme, name, value)


def shipped_definitions_publish(*, directory: Path, author: Any,
                                publisher: Any) -> list[ProgrammeVersion]:
    """Publishes the shipped questionnaires (``directory/questionnaires``) and, for each
    shipped programme definition (``directory/programmes/<code>.json``) whose programme
    has no version yet, that definition: the programme is made if it does not exist,
    the version drafted by ``author`` and published by ``publisher``. Safe to run
    again: what is published stays as it is."""
    for path in sorted((directory / "questionnaires").glob("*.json")):
        questionnaire_publish(definition=json.loads(path.read_text("utf-8")))
    published = []
    for path in sorted((directory / "programmes").glob("*.json")):
        definition = json.loads(path.read_text("utf-8"))
        programme = selectors.programme_by_code(definition.get("code", path.stem))
        if programme is None:
            draft = programme_define(definition=definition, author=author)
        elif selectors.programme_version_latest(programme) is None:
            draft = programme_version_draft(programme=programme, author=author,
                                            definition=definition)
        else:
            continue
        published.append(programme_version_publish(version=draft, publisher=publisher))
    return published
