"""Forms of the programme back-office: they parse, the services decide."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import DomainErrorFormMixin


class DefinitionField(forms.JSONField):
    """A definition written as JSON; shown indented so a caseworker can read it."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return super().prepare_value(value)


class DraftVersionForm(DomainErrorFormMixin, forms.Form):
    definition = DefinitionField(
        label=_("Definition"),
        widget=forms.Textarea(attrs={"rows": 40, "cols": 100, "spellcheck": "false"}),
        help_text=_("The whole programme as data: timeline, cap, budget, screening, "
                    "inclusion, priority, follow-up, safety, outcome, payment, consent and "
                    "savings (docs/architecture.md names the vocabulary). It applies to "
                    "enrollments made after it is published."),
    )

    def show_domain_error(self, error: Any) -> None:
        # The service names a place inside the definition: show it under the field.
        for path, reason in error.fields.items():
            self.add_error("definition", f"{path}: {reason}")
        self.add_error(None, str(error.message))


class DefineProgrammeForm(DraftVersionForm):
    """A new programme: its whole definition, starting from a template to change."""


class DryRunForm(forms.Form):
    """The assumption a dry run is made under."""

    DEFAULT = Decimal("50")

    success_percent = forms.DecimalField(
        label=_("Share assumed to reach the outcome (%)"), min_value=Decimal("0"),
        max_value=Decimal("100"), decimal_places=1, initial=DEFAULT,
        help_text=_("Of those who join, how many you expect to meet every outcome "
                    "criterion. The rest are drawn just short of it."))


class PublishVersionForm(DomainErrorFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I have read the definition and it is right"),
        error_messages={"required": _("Tick the box to confirm that you have read the "
                                      "definition.")})
