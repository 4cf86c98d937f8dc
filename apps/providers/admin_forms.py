"""Forms of the providers' back-office.

They only parse input: the services decide. A ``DomainError`` raised by a
service is put back onto the form with ``show_domain_error``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import DomainErrorFormMixin
from apps.programs.models import Programme
from apps.providers.models import (
    ApiCredential,
    AuthorizationApplication,
    Provider,
    Scope,
    clean_scopes,
)
from apps.providers.selectors import programmes_not_offered
from apps.providers.services import Declarations
from apps.providers.validators import (
    ACCESSIBILITY_CHOICES,
    REGION_CHOICES,
    clean_languages,
    clean_owners,
    clean_subcontractors,
    normalise_organisation_number,
)


class ReasonForm(DomainErrorFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 70}),
        help_text=_("Required. Kept with the decision in the provider's history."),
    )


class RunChecksForm(DomainErrorFormMixin, forms.Form):
    """A confirmation only: the checks read the registers named by the settings."""


class ApplicationForm(DomainErrorFormMixin, forms.ModelForm):
    """An application registered by a caseworker on the provider's behalf, for one
    programme (those that can be joined, a published version, and the provider does not
    offer yet)."""

    class Meta:
        model = AuthorizationApplication
        fields = [
            "programme",
            "targets_programme_outcome", "individualised_support", "voluntary_participation",
            "serves_at_least_50", "will_not_refuse", "accepts_switching_rules",
            "accepts_payment_model", "cost_coverage_programme_months", "cost_coverage_by",
            "includes_medical_device", "medical_device_ce_marked", "note",
        ]
        widgets = {"note": forms.Textarea(attrs={"rows": 3, "cols": 70})}

    def __init__(self, *args: Any, provider: Provider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["programme"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Programme.objects.filter(
            pk__in=[programme.pk for programme in programmes_not_offered(provider)])

    def declarations(self) -> Declarations:
        data = self.cleaned_data
        return Declarations(**{
            name: data[name] for name in Declarations.__dataclass_fields__
        })


class _JsonListField(forms.JSONField):
    """A list edited as JSON, cleaned (and normalised) by a validator function."""

    def __init__(self, *, clean_list: Any, **kwargs: Any) -> None:
        self.clean_list = clean_list
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "cols": 70}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        loaded = super().clean(value)
        return self.clean_list([] if loaded in (None, "") else loaded)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return json.dumps(value, ensure_ascii=False, indent=1)
        return super().prepare_value(value)


class ProviderAdminForm(forms.ModelForm):
    """The profile's lists as checkboxes and plain text instead of raw JSON."""

    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")
    financier_organisation_number = forms.CharField(
        label=_("financier's organisation number"), required=False, max_length=13,
        help_text=_("NNNNNN-NNNN; stored without the hyphen."),
    )
    languages = forms.CharField(
        label=_("languages"), required=False,
        help_text=_("ISO 639-1 codes separated by commas, e.g. sv, en, ar, so."),
    )
    accessibility = forms.MultipleChoiceField(
        label=_("accessibility"), required=False, choices=ACCESSIBILITY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    regions = forms.MultipleChoiceField(
        label=_("regions"), required=False, choices=REGION_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Where the provider works on site; “the whole country” alone for national "
                    "coverage."),
    )
    subcontractors = _JsonListField(
        label=_("subcontractors"), clean_list=clean_subcontractors,
        help_text=_('JSON, e.g. [{"name": "Gym AB", "organisation_number": "556677-0052"}].'),
    )
    owners = _JsonListField(
        label=_("owners and beneficial owners"), clean_list=clean_owners,
        help_text=_('JSON, e.g. [{"name": "Holding AB", "organisation_number": "…"}, '
                    '{"name": "Erik Exempelsson", "birth_year": 1968}]. Never a personal '
                    "identity number."),
    )

    class Meta:
        model = Provider
        fields = [
            "name", "organisation_number", "email", "phone", "website", "offer_sv", "offer_en",
            "delivery_mode", "coach_type", "languages", "accessibility", "regions", "capacity",
            "subcontractors", "owners", "financier_name", "financier_organisation_number",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["languages"] = ", ".join(self.instance.languages or [])

    def clean_financier_organisation_number(self) -> str:
        value = (self.cleaned_data.get("financier_organisation_number") or "").strip()
        return normalise_organisation_number(value) if value else ""

    def clean_languages(self) -> list[str]:
        raw = self.cleaned_data.get("languages") or ""
        return clean_languages([code for code in raw.replace(";", ",").split(",")
                                if code.strip()])


class ApiCredentialAdminForm(forms.ModelForm):
    """Issuing a key: one organisation, the scopes it needs."""

    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
        help_text=_("A provider may read its prepatients and settlements and report "
                    "measurements; a laboratory may send results and report measurements."),
    )

    class Meta:
        model = ApiCredential
        fields = ["provider", "lab", "label", "scopes"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        provider, lab = data.get("provider"), data.get("lab")
        if (provider is None) == (lab is None):
            # On the field, so that the model's constraint is not reported a second time.
            self.add_error("provider", ValidationError(
                _("Choose either a provider or a laboratory (exactly one)."),
                code="one_organisation"))
        elif "scopes" in data:
            try:
                data["scopes"] = clean_scopes(data["scopes"], for_lab=lab is not None)
            except ValidationError as error:
                self.add_error("scopes", error)
        return data

    def issue_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"provider": data.get("provider"), "lab": data.get("lab"),
                "label": data["label"], "scopes": data["scopes"]}

