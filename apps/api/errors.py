"""Refusals of the API's readers of requests, each with a code and a plain message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from apps.core.errors import InvalidInput


class FhirInvalid(InvalidInput):
    code = "fhir_invalid"
    default_message = gettext_lazy("The FHIR resource cannot be read. See the fields for "
                                   "what to correct.")
