from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.providers.authentication import OrganisationUser


class IsOrganisation(BasePermission):
    """The caller authenticated with an organisation's API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, OrganisationUser)
