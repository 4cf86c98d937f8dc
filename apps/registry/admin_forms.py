"""Forms of the registry's back-office actions.

They only parse input: the services decide. A ``DomainError`` raised by a
service is put back onto the form with ``show_domain_error`` so the caseworker
sees the service's own message next to the field it concerns.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.admin_tools import DomainErrorFormMixin
from apps.core.errors import DomainError
from apps.programs.selectors import programmes_in_order
from apps.registry.models import ExclusionReason

MAX_CSV_BYTES = 2 * 1024 * 1024


def _reason_field(*, max_length: int = 500, label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason"),
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Required. Kept with the event in the prepatient's history."),
    )


class ExcludeForm(DomainErrorFormMixin, forms.Form):
    reason = forms.ChoiceField(label=_("Reason for the exclusion"),
                               choices=ExclusionReason.choices)
    note = _reason_field(label=_("Note"))


class ReinstateForm(DomainErrorFormMixin, forms.Form):
    note = _reason_field()

    field_aliases: ClassVar[dict[str, str]] = {"reason": "note"}


class RegisterDeathForm(DomainErrorFormMixin, forms.Form):
    on = forms.DateField(label=_("Date of death"), widget=AdminDateWidget)
    note = _reason_field(label=_("Source and note"))

    field_aliases: ClassVar[dict[str, str]] = {"reason": "note"}

    def clean_on(self) -> Any:
        day = self.cleaned_data["on"]
        if day > clock.today():
            raise forms.ValidationError(_("The date is in the future."))
        return day


class VerifySampleForm(DomainErrorFormMixin, forms.Form):
    note = _reason_field(max_length=300, label=_("How the value was verified"))

    field_aliases: ClassVar[dict[str, str]] = {"reason": "note"}


class PostcodeImportForm(DomainErrorFormMixin, forms.Form):
    programme = forms.ModelChoiceField(label=_("Programme"), queryset=programmes_in_order())
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 with the header postcode,area_name; one postcode per line."),
    )

    field_aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programmes = list(programmes_in_order()[:2])
        if len(programmes) == 1:
            self.fields["programme"].initial = programmes[0].pk

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            return str(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from None

    def show_domain_error(self, error: DomainError) -> None:
        """Every bad line under the file field, the summary on top."""
        for key, value in error.fields.items():
            messages = value if isinstance(value, list | tuple) else [value]
            for message in messages:
                self.add_error("file", f"{str(key).capitalize()}: {message}")
        self.add_error(None, str(error.message))


class HideCommentForm(DomainErrorFormMixin, forms.Form):
    reason = _reason_field(label=_("Why the comment is hidden"), max_length=300)
