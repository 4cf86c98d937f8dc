"""Who may call an API view: an organisation's key, with the scopes the view needs.

Either ``permission_classes = [HasScope.of("measurements:write")]`` or
``permission_classes = [HasScope]`` with ``required_scope = "…"`` (or
``required_scopes = (…)``) on the view. A view that names no scope refuses
every call: a forgotten scope fails closed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.api.authentication import OrganisationUser
from apps.providers.models import Scope


class IsOrganisation(BasePermission):
    """The caller authenticated with an organisation's API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, OrganisationUser)


def _known(scopes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise ValueError(f"Unknown API scopes: {', '.join(unknown)}")
    return scopes


class HasScope(BasePermission):
    """The caller's key is an organisation's and carries every required scope."""

    required: ClassVar[tuple[str, ...]] = ()
    code = "missing_scope"
    message: Any = None

    @classmethod
    def of(cls, *scopes: str) -> type[HasScope]:
        """A permission class requiring ``scopes`` (checked against the known scopes now)."""
        if not scopes:
            raise ValueError("HasScope.of() needs at least one scope")
        name = "HasScope_" + "_".join(s.replace(":", "_") for s in scopes)
        return type(name, (cls,), {"required": _known(tuple(scopes))})

    def required_scopes(self, view: Any) -> tuple[str, ...]:
        if self.required:
            return self.required
        many = getattr(view, "required_scopes", None)
        if many:
            return _known(tuple(many))
        one = getattr(view, "required_scope", None)
        return _known((one,)) if one else ()

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, OrganisationUser):
            return False
        required = self.required_scopes(view)
        if not required:
            self.message = _("This endpoint is not open to API keys.")
            return False
        missing = [scope for scope in required if not user.has_scope(scope)]
        if missing:
            self.message = _("This API key does not have the scope %(scope)s.") % {
                "scope": ", ".join(missing)}
            return False
        return True
