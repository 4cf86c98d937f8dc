"""Reading programmes: the lists the back-office and the site show and pick from."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire


def programmes_in_order() -> QuerySet[Programme]:
    """Every programme, the earliest first (the order of menus and overviews)."""
    return Programme.objects.order_by("start_date", "code")


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
