"""Forms of the marketplace and My page: filters, ratings, consents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from apps.providers.validators import SWEDISH_REGIONS
from apps.registry.services import COMMENT_MAX_LENGTH

# ISO 639-1 languages common in Sweden that Django's own list does not name.
_MORE_LANGUAGES: dict[str, tuple[Promise, str, bool]] = {
    "am": (_("Amharic"), "አማርኛ", False),
    "ku": (_("Kurdish"), "Kurdî", False),
    "om": (_("Oromo"), "Afaan Oromoo", False),
    "ps": (_("Pashto"), "پښتو", True),
    "se": (_("Northern Sami"), "davvisámegiella", False),
    "so": (_("Somali"), "Soomaali", False),
    "ti": (_("Tigrinya"), "ትግርኛ", False),
    "yi": (_("Yiddish"), "ייִדיש", True),
    "zh": (_("Chinese"), "中文", False),
}


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the page's language
    local: str  # in the language itself
    bidi: bool

    @property
    def local_differs(self) -> bool:
        return self.local.casefold() != self.name.casefold()


def language(code: str) -> Language:
    """A language's name in the page's language and in its own."""
    if code in _MORE_LANGUAGES:
        name, local, bidi = _MORE_LANGUAGES[code]
        return Language(code=code, name=str(name), local=local, bidi=bidi)
    try:
        info = get_language_info(code)
    except KeyError:
        return Language(code=code, name=code.upper(), local=code.upper(), bidi=False)
    return Language(code=code, name=str(info["name_translated"]), local=info["name_local"],
                    bidi=bool(info["bidi"]))


def languages(codes: Iterable[str]) -> list[Language]:
    return [language(code) for code in codes]


class Delivery:
    REMOTE = "remote"
    ON_SITE = "on_site"


class Coach:
    HUMAN = "human"
    AI = "ai"


class Sort:
    NAME = "name"
    RATING = "rating"


class ProviderFilterForm(forms.Form):
    """The marketplace's filters (SPEC §3.6). Every field is optional; a value
    that is not offered is ignored rather than refused."""

    delivery = forms.ChoiceField(
        label=_("How you meet"), required=False, widget=forms.RadioSelect,
        choices=[("", _("Any")), (Delivery.REMOTE, _("Remote (phone, video or app)")),
                 (Delivery.ON_SITE, _("On site (meet in person)"))],
    )
    coach = forms.ChoiceField(
        label=_("Who coaches you"), required=False, widget=forms.RadioSelect,
        choices=[("", _("Any")), (Coach.HUMAN, _("A person")), (Coach.AI, _("An AI coach"))],
    )
    language = forms.ChoiceField(label=_("Language"), required=False)
    region = forms.ChoiceField(
        label=_("Region"), required=False,
        help_text=_("Providers that work in the whole country are always shown."),
    )
    read_aloud = forms.BooleanField(
        label=_("Can read aloud (for people with a visual impairment)"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"), required=False,
        choices=[(Sort.NAME, _("Name")), (Sort.RATING, _("Rating"))],
    )

    def __init__(self, *args: Any, language_codes: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = sorted(languages(set(language_codes)), key=lambda item: item.name.casefold())
        language_field = self.fields["language"]
        assert isinstance(language_field, forms.ChoiceField)
        language_field.choices = [("", _("Any language"))] + [
            (item.code, f"{item.name} ({item.local})" if item.local_differs else item.name)
            for item in offered]
        region_field = self.fields["region"]
        assert isinstance(region_field, forms.ChoiceField)
        region_field.choices = [("", _("Any region"))] + [
            (region, region) for region in SWEDISH_REGIONS]

    def filters(self) -> dict[str, Any]:
        """The valid, active filters (an invalid value counts as no filter)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        active = {name: data.get(name) for name in
                  ("delivery", "coach", "language", "region", "read_aloud")
                  if data.get(name)}
        return active

    def sort_order(self) -> str:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("sort") or Sort.NAME


STAR_LABELS = {
    1: _("1 star – very poor"),
    2: _("2 stars – poor"),
    3: _("3 stars – okay"),
    4: _("4 stars – good"),
    5: _("5 stars – very good"),
}


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("Your rating"), coerce=int, widget=forms.RadioSelect,
        choices=[(stars, label) for stars, label in sorted(STAR_LABELS.items(), reverse=True)],
        error_messages={"required": _("Choose from 1 to 5 stars.")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=format_lazy(_("At most {max} characters. It is shown without your name. "
                                "Do not write names or other personal details."),
                              max=COMMENT_MAX_LENGTH),
    )


class WithdrawConsentForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand what withdrawing my consent means."),
        error_messages={"required": _("Tick the box to confirm that you want to withdraw "
                                      "your consent.")},
    )


class ResearchConsentForm(forms.Form):
    """Give or stop the optional research donation; ``version`` is the text read."""

    GIVE = "give"
    WITHDRAW = "withdraw"
    action = forms.ChoiceField(choices=[(GIVE, GIVE), (WITHDRAW, WITHDRAW)],
                               widget=forms.HiddenInput)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
