"""Forms of the way into the programme: consent, personnummer, the questionnaire.

The forms check what a person can fix on the page (a box not ticked, a number
outside the plausible range) with messages that name the field; the domain
services still decide everything, and their refusals are put on the fields
they name (``add_domain_error``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError
from prevention_engine.findrisc import FamilyHistory

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

ONE_DECIMAL = Decimal("0.1")


def add_domain_error(form: forms.Form, error: DomainError,
                     messages: Mapping[str, Any] | None = None) -> None:
    """Puts a service's refusal on the fields it names (or on the form).

    ``messages`` may replace the message for a field (for example with the
    service's longer explanation).
    """
    placed = False
    for name, message in error.fields.items():
        if name in form.fields:
            form.add_error(name, (messages or {}).get(name, message))
            placed = True
    if not placed:
        form.add_error(None, error.message)


# --- Consent -------------------------------------------------------------------


class PlainForm(forms.Form):
    """Labels without a trailing colon: they read as questions and names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ConsentForm(PlainForm):
    """Agreeing to the data-sharing text shown, and optionally to research donation.

    The hidden fields say which versions the person was shown, so a text
    published meanwhile is never agreed to unread.
    """

    data_text = forms.IntegerField(widget=forms.HiddenInput)
    research_text = forms.IntegerField(widget=forms.HiddenInput, required=False)
    agree = forms.BooleanField(
        label=_("I have read the text and I agree"),
        error_messages={"required": _("Tick the box to show that you agree. "
                                      "Without your consent you cannot join.")},
    )
    research = forms.BooleanField(
        label=_("Yes, I want to donate my data to research"), required=False,
    )


# --- Personnummer ----------------------------------------------------------------


class IdentityForm(PlainForm):
    personnummer = forms.CharField(
        label=_("Your personnummer"),
        help_text=_("10 or 12 digits, for example YYMMDD-NNNN or YYYYMMDD-NNNN."),
        max_length=20,
        error_messages={"required": _("Write your personnummer.")},
        widget=forms.TextInput(attrs={
            "autocomplete": "off", "inputmode": "numeric", "spellcheck": "false",
            "autocapitalize": "off", "data-private": "", "class": "narrow",
        }),
    )


# --- The questionnaire (FINDRISC, SPEC §6) -------------------------------------


class MeasureField(forms.Field):
    """A body measure typed as a number: a decimal comma or point, an optional unit.

    The value is kept to one decimal (half up), as the screening stores it.
    """

    widget = forms.TextInput

    def __init__(self, *, low: int, high: int, unit: str, invalid: StrOrPromise,
                 out_of_range: StrOrPromise, **kwargs: Any) -> None:
        self.low, self.high, self.unit = Decimal(low), Decimal(high), unit
        self.out_of_range = out_of_range
        kwargs.setdefault("widget", forms.TextInput(attrs={
            "inputmode": "decimal", "autocomplete": "off", "spellcheck": "false",
            "class": "narrow",
        }))
        super().__init__(**kwargs)
        self.error_messages["invalid"] = invalid

    def to_python(self, value: Any) -> Decimal | None:
        text = re.sub(r"\s+", "", str(value or "")).replace(",", ".")
        text = re.sub(rf"{re.escape(self.unit)}$", "", text, flags=re.IGNORECASE)
        if not text:
            return None
        if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return number.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not self.low <= value <= self.high:
            raise ValidationError(self.out_of_range, code="out_of_range")


class SelfValueForm(PlainForm):
    """A value the person measured themselves, of a measure the programme's inclusion
    takes from them (checked by staff before it decides anything)."""

    measure = forms.ChoiceField(label=_("What you measured"))
    value = forms.CharField(
        label=_("Your value"), max_length=20,
        error_messages={"required": _("Write the value you measured.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                      "spellcheck": "false", "class": "narrow"}),
    )
    taken_on = forms.DateField(
        label=_("The day you measured it"),
        help_text=_("For example 2027-02-01."),
        error_messages={"required": _("Write the day you measured the value."),
                        "invalid": _("Write the day as YYYY-MM-DD, for example 2027-02-01.")},
        widget=forms.DateInput(attrs={"type": "date", "class": "narrow"}),
    )

    def __init__(self, *args: Any, measures: Sequence[tuple[str, str, str]] = (),
                 **kwargs: Any) -> None:
        """``measures``: (code, name, unit) of each measure the person may type in."""
        super().__init__(*args, **kwargs)
        field = self.fields["measure"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(code, f"{name} ({unit})" if unit else name)
                         for code, name, unit in measures]
        self.units = {code: unit for code, _name, unit in measures}
        if len(measures) == 1:
            field.widget = forms.HiddenInput()
            field.initial = measures[0][0]
            _code, name, unit = measures[0]
            self.fields["value"].label = (
                _("Your value: %(measure)s in %(unit)s") % {"measure": name, "unit": unit}
                if unit else _("Your value: %(measure)s") % {"measure": name})

    def clean_value(self) -> Decimal:
        text = re.sub(r"\s+", "", str(self.cleaned_data.get("value") or "")).replace(",", ".")
        unit = self.units.get(str(self.data.get(self.add_prefix("measure"), "")), "")
        if unit:
            text = re.sub(rf"{re.escape(unit)}$", "", text, flags=re.IGNORECASE)
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            raise ValidationError(_("Write the value as a number, for example 7 500 or 82,5."),
                                  code="invalid")
        return Decimal(text)


YES, NO = "yes", "no"
YES_NO = [(YES, _("Yes")), (NO, _("No"))]


def yes_no(label: StrOrPromise, *, help_text: StrOrPromise = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, help_text=help_text, choices=YES_NO, widget=forms.RadioSelect,
        error_messages={"required": _("Choose yes or no.")},
    )


class QuestionnairePartForm(PlainForm):
    """One part of the questionnaire. ``partial`` (save and continue later)
    accepts empty answers but still refuses a wrong one."""

    def __init__(self, *args: Any, partial: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if partial:
            for field in self.fields.values():
                field.required = False

    def answers(self) -> dict[str, str | None]:
        """The cleaned answers as the draft stores them (None: left empty)."""
        return {name: (None if value in (None, "") else str(value))
                for name, value in self.cleaned_data.items()}


class BodyForm(QuestionnairePartForm):
    height_cm = MeasureField(
        label=_("Height (cm)"), low=100, high=250, unit="cm",
        help_text=_("In centimetres, for example 172."),
        invalid=_("Write your height as a number of centimetres, for example 172."),
        out_of_range=_("Height must be between 100 and 250 cm."),
        error_messages={"required": _("Write your height.")},
    )
    weight_kg = MeasureField(
        label=_("Weight (kg)"), low=30, high=350, unit="kg",
        help_text=_("In kilograms, for example 81 or 81,5."),
        invalid=_("Write your weight as a number of kilograms, for example 81."),
        out_of_range=_("Weight must be between 30 and 350 kg."),
        error_messages={"required": _("Write your weight.")},
    )
    waist_cm = MeasureField(
        label=_("Waist (cm)"), low=40, high=250, unit="cm",
        help_text=_("Measure with a tape measure around your belly, at the height of your "
                    "navel (belly button). Stand up, breathe out normally and do not pull "
                    "the tape tight. Measure on bare skin or over thin clothes."),
        invalid=_("Write your waist as a number of centimetres, for example 94."),
        out_of_range=_("Waist must be between 40 and 250 cm."),
        error_messages={"required": _("Write your waist measurement.")},
    )


class HabitsForm(QuestionnairePartForm):
    physically_active = yes_no(
        _("Are you physically active for at least 30 minutes every day?"),
        help_text=_("At work, in your free time or on the way somewhere: walking, cycling, "
                    "cleaning, gardening and sports all count."),
    )
    eats_vegetables_daily = yes_no(
        _("Do you eat vegetables, fruit or berries every day?"),
    )


class HistoryForm(QuestionnairePartForm):
    antihypertensive_medication = yes_no(
        _("Have you ever taken medicine for high blood pressure regularly?"),
    )
    high_glucose_history = yes_no(
        _("Have you ever been told that your blood sugar was high?"),
        help_text=_("For example at a health check, during an illness or during a "
                    "pregnancy."),
    )


FAMILY_CHOICES = [
    (FamilyHistory.NONE.value, _("No")),
    (FamilyHistory.SECOND_DEGREE.value,
     _("Yes: a grandparent, aunt, uncle or cousin (but no parent, brother, sister or "
       "child)")),
    (FamilyHistory.FIRST_DEGREE.value, _("Yes: a parent, brother, sister or my own child")),
]


class FamilyForm(QuestionnairePartForm):
    family_history = forms.ChoiceField(
        label=_("Has anyone in your family had diabetes (type 1 or type 2)?"),
        choices=FAMILY_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": _("Choose one of the answers.")},
    )


# --- Questionnaires as data (any programme's screening) ---------------------------------


def answer_field_name(code: str, link_id: str) -> str:
    return f"{code}.{link_id}"


class AnswersForm(PlainForm):
    """The items of the programme's screening questionnaires, built from their
    definitions in the reader's language: a choice as radio buttons, a quantity as a
    number. ``answers()`` gives ``{code: {link_id: answer}}`` for the service."""

    def __init__(self, *args: Any, questionnaires: Any = (), language: str = "sv",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections: list[tuple[Any, list[str]]] = []
        for questionnaire in questionnaires:
            names = []
            for item in questionnaire.items:
                name = answer_field_name(questionnaire.code, item.link_id)
                label = item.text.get(language, item.text["sv"])
                if item.options:
                    self.fields[name] = forms.ChoiceField(
                        label=label, widget=forms.RadioSelect,
                        choices=[(option.code, option.text.get(language, option.text["sv"]))
                                 for option in item.options],
                        error_messages={"required": _("Please choose an answer.")})
                else:
                    self.fields[name] = forms.DecimalField(
                        label=f"{label} ({item.unit})" if item.unit else label,
                        min_value=item.minimum, max_value=item.maximum,
                        error_messages={"required": _("Please give a number.")})
                names.append(name)
            self.sections.append((questionnaire, names))

    def section_fields(self) -> list[tuple[Any, list[Any]]]:
        return [(questionnaire, [self[name] for name in names])
                for questionnaire, names in self.sections]

    def answers(self) -> dict[str, dict[str, Any]]:
        given: dict[str, dict[str, Any]] = {}
        for questionnaire, names in self.sections:
            given[questionnaire.code] = {name.split(".", 1)[1]: self.cleaned_data[name]
                                         for name in names}
        return given
