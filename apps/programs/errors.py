"""Refusals of the programme services, each with a code and a plain message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, InvalidInput, PermissionDenied


class DefinitionInvalid(InvalidInput):
    """The definition cannot be evaluated; ``fields`` names the place and the reason."""

    code = "definition_invalid"
    default_message = _("The definition cannot be used: correct the place named.")


class FourEyesRequired(PermissionDenied):
    code = "four_eyes_required"
    default_message = _("A version is published by another caseworker than the one who "
                        "drafted it.")


class VersionNotDraft(Conflict):
    code = "version_not_draft"
    default_message = _("Only a draft can be published.")


class DefinitionConflict(Conflict):
    code = "definition_conflict"
    default_message = _("Another definition with this code and version is already "
                        "published: a change is a new version.")


class ProgrammeNotDefined(Conflict):
    code = "programme_not_defined"
    default_message = _("The programme has no published version yet, so nobody can join "
                        "it.")
