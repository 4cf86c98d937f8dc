"""Rate limits per API key: each credential has its own bucket.

The rate is ``settings.API_CREDENTIAL_RATE`` (``"600/min"`` unless set),
read at each request so that it can be changed without a restart of the
class (and overridden in tests). Calls not made with an API key are not
limited here.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from apps.api.authentication import OrganisationUser

DEFAULT_RATE = "600/min"
_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


class CredentialRateThrottle(SimpleRateThrottle):
    scope = "api_credential"

    def get_rate(self) -> str | None:
        rate = getattr(settings, "API_CREDENTIAL_RATE", None) or DEFAULT_RATE
        if not _RATE.fullmatch(rate):
            raise ImproperlyConfigured(
                f"API_CREDENTIAL_RATE={rate!r} is not a rate such as 600/min or 10/s")
        return str(rate)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not isinstance(user, OrganisationUser):
            return None
        credential = user.credential
        # The prefix too: ids can be reused (a test database), prefixes are random.
        return self.cache_format % {"scope": self.scope,
                                    "ident": f"{credential.pk}-{credential.prefix}"}
