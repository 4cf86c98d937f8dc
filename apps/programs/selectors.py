"""Reading programmes: the lists the back-office and the site show and pick from."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet

from apps.programs import vocabulary
from apps.programs.errors import ProgrammeNotDefined
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire
from prevention_engine import definition as programme_definition
from prevention_engine import questionnaire as questionnaire_definition
from prevention_engine.definition import ProgrammeDefinition
from prevention_engine.dryrun import DryRun, dry_run


def programmes_in_order() -> QuerySet[Programme]:
    """Every programme, the earliest first (the order of menus and overviews)."""
    return Programme.objects.order_by("start_date", "code")


def programmes_with_a_published_version() -> QuerySet[Programme]:
    """The programmes people may join under a published version, the earliest first."""
    published = ProgrammeVersion.objects.filter(programme=OuterRef("pk"),
                                                status=DefinitionStatus.PUBLISHED)
    return programmes_in_order().filter(Exists(published))


def programme_menu() -> QuerySet[Programme]:
    """What a menu of programmes needs: the id and the name, the earliest first."""
    return programmes_in_order().only("pk", "name")


def programme_ids() -> list[int]:
    """Every programme's id (a handful: used to let an index on programme and hash work)."""
    return list(Programme.objects.values_list("pk", flat=True))


def programme_by_code(code: str) -> Programme | None:
    return Programme.objects.filter(code=code).first()


def earliest_programme() -> Programme | None:
    return Programme.objects.order_by("start_date", "pk").first()


def questionnaire_codes() -> list[str]:
    """The codes of every published questionnaire."""
    return sorted(set(Questionnaire.objects.filter(status=DefinitionStatus.PUBLISHED)
                      .values_list("code", flat=True)))


def programme_version_current(programme: Programme) -> ProgrammeVersion | None:
    """The latest published version: the one new enrollments join under."""
    return (programme.versions.filter(status=DefinitionStatus.PUBLISHED)
            .order_by("-version").first())


def version_terms(version: ProgrammeVersion) -> ProgrammeDefinition:
    """The version's definition as the rule engine reads it (checked when it was
    drafted and published; a published version never changes, so it is read once per
    object)."""
    cached: ProgrammeDefinition | None = getattr(version, "_terms", None)
    if cached is None:
        cached = programme_definition.parse(version.definition)
        version._terms = cached  # type: ignore[attr-defined]
    return cached


def terms_of_versions(ids: Iterable[int | None]) -> dict[int, ProgrammeDefinition]:
    """The definitions of the versions ``ids`` (one query): for work over many
    enrollments at once."""
    wanted = {pk for pk in ids if pk is not None}
    return {version.pk: version_terms(version)
            for version in ProgrammeVersion.objects.filter(pk__in=wanted)}


def published_terms() -> list[ProgrammeDefinition]:
    """The definitions of every published version (a handful)."""
    return [version_terms(version) for version in
            ProgrammeVersion.objects.filter(status=DefinitionStatus.PUBLISHED)]


def referral_score_threshold(terms: ProgrammeDefinition) -> Decimal | None:
    """The score from which the screening earns the next step (its first score check)."""
    return next((check.condition.threshold for check in terms.referral
                 if check.condition.subject == "score"), None)


def care_threshold(terms: ProgrammeDefinition, measure: str) -> Decimal | None:
    """The value of ``measure`` from which the definition's safety checks tell a person
    to seek care (the first such check's threshold), if they have one."""
    for check in terms.safety:
        condition = check.condition
        if condition.subject == "measure" and condition.measure == measure \
                and condition.op in ("ge", "gt"):
            return condition.threshold
    return None


def programme_terms(programme: Programme) -> ProgrammeDefinition:
    """The terms new enrollments join under: the current published version's.

    Raises ``ProgrammeNotDefined`` for a programme with no published version (it
    cannot recruit)."""
    version = programme_version_current(programme)
    if version is None:
        raise ProgrammeNotDefined()
    return version_terms(version)


def programme_version_published(programme: Programme, number: int) -> ProgrammeVersion | None:
    """Published version ``number`` of the programme."""
    return programme.versions.filter(status=DefinitionStatus.PUBLISHED, version=number).first()


def first_version(programme: Programme) -> ProgrammeVersion | None:
    """The programme's first published version."""
    return (programme.versions.filter(status=DefinitionStatus.PUBLISHED)
            .order_by("version").first())


def programme_version_latest(programme: Programme) -> ProgrammeVersion | None:
    """The newest version, published or draft: where a new draft starts from."""
    return programme.versions.order_by("-version").first()


def programme_versions(programme: Programme) -> QuerySet[ProgrammeVersion]:
    """The programme's versions, the newest first."""
    return programme.versions.order_by("-version")


def questionnaire_published(code: str) -> Questionnaire | None:
    """The latest published version of a questionnaire."""
    return (Questionnaire.objects.filter(code=code, status=DefinitionStatus.PUBLISHED)
            .order_by("-version").first())


def screening_questionnaires(programme: Programme) -> list[Questionnaire]:
    """The published questionnaires the programme's current definition screens with."""
    version = programme_version_current(programme)
    codes = version.definition.get("screening", {}).get("questionnaires", []) if version else []
    return [found for code in codes if (found := questionnaire_published(code)) is not None]


def version_dry_run(version: ProgrammeVersion, *,
                    success_share: Decimal = Decimal("0.5")) -> DryRun:
    """What the version's definition would do on a synthetic cohort
    (``prevention_engine.dryrun``), with the published questionnaires' score ranges and
    the measures' plausible ranges."""
    ranges = {}
    for questionnaire in Questionnaire.objects.filter(status=DefinitionStatus.PUBLISHED):
        ranges[questionnaire.code] = questionnaire_definition.parse(
            questionnaire.definition).score_range
    return dry_run(version.definition, score_ranges=ranges,
                   value_ranges=vocabulary.known_ranges(), success_share=success_share)
