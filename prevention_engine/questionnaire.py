"""Questionnaires as data: items, answer options with points, a summed score with bands.

A definition is plain JSON-like data (the shape of FHIR ``Questionnaire`` kept
small): each item is either a *choice* (answer options, each with its points) or a
*quantity* (a number, with bands that give points, optionally depending on another
item's answer, as FINDRISC's waist bands depend on sex). The score is the sum of
the items' points; score bands give it a plain-language meaning.

``parse`` checks a definition and names the place of the first thing that cannot be
evaluated; ``score`` checks one set of answers against it and names the item of the
first answer that does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CHOICE = "choice"
QUANTITY = "quantity"
ITEM_KINDS = (CHOICE, QUANTITY)
LANGUAGES = ("sv", "en")


class DefinitionError(ValueError):
    """A questionnaire definition that cannot be evaluated, at ``path``."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AnswerError(ValueError):
    """An answer that does not fit its item (``link_id``)."""

    def __init__(self, link_id: str, reason: str) -> None:
        self.link_id = link_id
        self.reason = reason
        super().__init__(f"{link_id}: {reason}")


@dataclass(frozen=True)
class Option:
    code: str
    points: int
    text: Mapping[str, str]


@dataclass(frozen=True)
class Band:
    """Points for a quantity in [lower, upper] (each end open or closed, or absent),
    where the other items named in ``when`` were answered with the given codes."""

    points: int
    lower: Decimal | None = None
    lower_inclusive: bool = True
    upper: Decimal | None = None
    upper_inclusive: bool = True
    when: tuple[tuple[str, str], ...] = ()

    def holds(self, value: Decimal) -> bool:
        if self.lower is not None and (value < self.lower if self.lower_inclusive
                                       else value <= self.lower):
            return False
        return not (self.upper is not None and (value > self.upper if self.upper_inclusive
                                                else value >= self.upper))

    def applies(self, answers: Mapping[str, Any]) -> bool:
        return all(answers.get(link_id) == code for link_id, code in self.when)


@dataclass(frozen=True)
class Item:
    link_id: str
    kind: str
    text: Mapping[str, str]
    options: tuple[Option, ...] = ()
    bands: tuple[Band, ...] = ()
    unit: str = ""
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def option(self, code: str) -> Option | None:
        return next((option for option in self.options if option.code == code), None)


@dataclass(frozen=True)
class ScoreBand:
    lower: int
    upper: int
    code: str
    meaning: Mapping[str, str]


@dataclass(frozen=True)
class Questionnaire:
    code: str
    version: int
    title: Mapping[str, str]
    items: tuple[Item, ...]
    score_bands: tuple[ScoreBand, ...] = ()

    def item(self, link_id: str) -> Item | None:
        return next((item for item in self.items if item.link_id == link_id), None)

    @property
    def score_range(self) -> tuple[int, int]:
        """The lowest and the highest score the items can give together."""
        low = high = 0
        for item in self.items:
            points = ([option.points for option in item.options] if item.kind == CHOICE
                      else [band.points for band in item.bands] or [0])
            low += min(points)
            high += max(points)
        return low, high


@dataclass(frozen=True)
class Scored:
    total: int
    points: Mapping[str, int]  # link_id → points
    band: ScoreBand | None
    answers: Mapping[str, Any] = field(default_factory=dict)  # as checked: codes, Decimals


# --- Reading a definition -------------------------------------------------------------


def parse(data: Mapping[str, Any]) -> Questionnaire:
    """The definition as data; ``DefinitionError`` names the first place that is wrong."""
    if not isinstance(data, Mapping):
        raise DefinitionError("$", "a questionnaire is an object")
    code = _text(data, "code", "$")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DefinitionError("version", "a whole number from 1")
    title = _languages(data.get("title"), "title")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise DefinitionError("items", "at least one item")
    items: list[Item] = []
    for index, raw in enumerate(raw_items):
        item = _item(raw, f"items[{index}]")
        if any(other.link_id == item.link_id for other in items):
            raise DefinitionError(f"items[{index}].link_id",
                                  f"{item.link_id!r} is used by an earlier item")
        items.append(item)
    for index, item in enumerate(items):
        _check_conditions(item, items, f"items[{index}]")
    questionnaire = Questionnaire(code=code, version=version, title=title,
                                  items=tuple(items), score_bands=())
    bands = _score_bands(data.get("score_bands", []), questionnaire.score_range)
    return Questionnaire(code=code, version=version, title=title, items=tuple(items),
                         score_bands=bands)


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{where}.{key}" if where != "$" else key, "a non-empty text")
    return value.strip()


def _languages(value: Any, path: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise DefinitionError(path, "texts in Swedish and English: {\"sv\": …, \"en\": …}")
    for language in LANGUAGES:
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            raise DefinitionError(f"{path}.{language}", "a non-empty text")
    return {language: str(value[language]).strip() for language in LANGUAGES}


def _points(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DefinitionError(path, "whole points")
    return value


def _decimal(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DefinitionError(path, "a number written as text or a whole number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise DefinitionError(path, "not a number") from None
    if not number.is_finite():
        raise DefinitionError(path, "not a finite number")
    return number


def _item(raw: Any, path: str) -> Item:
    if not isinstance(raw, Mapping):
        raise DefinitionError(path, "an item is an object")
    link_id = _text(raw, "link_id", path)
    kind = raw.get("kind")
    if kind not in ITEM_KINDS:
        raise DefinitionError(f"{path}.kind", f"one of {', '.join(ITEM_KINDS)}")
    text = _languages(raw.get("text"), f"{path}.text")
    if kind == CHOICE:
        raw_options = raw.get("options")
        if not isinstance(raw_options, list) or len(raw_options) < 2:
            raise DefinitionError(f"{path}.options", "at least two answer options")
        options: list[Option] = []
        for index, option in enumerate(raw_options):
            where = f"{path}.options[{index}]"
            if not isinstance(option, Mapping):
                raise DefinitionError(where, "an option is an object")
            code = _text(option, "code", where)
            if any(other.code == code for other in options):
                raise DefinitionError(f"{where}.code", f"{code!r} is used by an earlier option")
            options.append(Option(code=code, points=_points(option.get("points"),
                                                            f"{where}.points"),
                                  text=_languages(option.get("text"), f"{where}.text")))
        return Item(link_id=link_id, kind=kind, text=text, options=tuple(options))
    minimum = _decimal(raw.get("minimum"), f"{path}.minimum")
    maximum = _decimal(raw.get("maximum"), f"{path}.maximum")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise DefinitionError(f"{path}.maximum", "below the minimum")
    bands = tuple(_band(band, f"{path}.bands[{index}]")
                  for index, band in enumerate(raw.get("bands") or []))
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        raise DefinitionError(f"{path}.unit", "a text")
    return Item(link_id=link_id, kind=kind, text=text, bands=bands, unit=unit,
                minimum=minimum, maximum=maximum)


def _band(raw: Any, path: str) -> Band:
    if not isinstance(raw, Mapping):
        raise DefinitionError(path, "a band is an object")
    unknown = set(raw) - {"points", "ge", "gt", "le", "lt", "when"}
    if unknown:
        raise DefinitionError(f"{path}.{sorted(unknown)[0]}",
                              "not a band field (points, ge, gt, le, lt, when)")
    if "ge" in raw and "gt" in raw:
        raise DefinitionError(f"{path}.gt", "give either ge or gt")
    if "le" in raw and "lt" in raw:
        raise DefinitionError(f"{path}.lt", "give either le or lt")
    lower_key = "ge" if "ge" in raw else "gt"
    upper_key = "le" if "le" in raw else "lt"
    lower = _decimal(raw.get(lower_key), f"{path}.{lower_key}")
    upper = _decimal(raw.get(upper_key), f"{path}.{upper_key}")
    if lower is not None and upper is not None and lower > upper:
        raise DefinitionError(path, "the lower bound is above the upper bound")
    when_raw = raw.get("when", {})
    if not isinstance(when_raw, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in when_raw.items()):
        raise DefinitionError(f"{path}.when", "an object of item → answer code")
    return Band(points=_points(raw.get("points"), f"{path}.points"), lower=lower,
                lower_inclusive=lower_key == "ge", upper=upper,
                upper_inclusive=upper_key == "le", when=tuple(sorted(when_raw.items())))


def _check_conditions(item: Item, items: Sequence[Item], path: str) -> None:
    for index, band in enumerate(item.bands):
        for link_id, code in band.when:
            other = next((candidate for candidate in items if candidate.link_id == link_id),
                         None)
            where = f"{path}.bands[{index}].when.{link_id}"
            if other is None or other.kind != CHOICE or other is item:
                raise DefinitionError(where, "names no other choice item")
            if other.option(code) is None:
                raise DefinitionError(where, f"{code!r} is not one of its options")


def _score_bands(raw: Any, score_range: tuple[int, int]) -> tuple[ScoreBand, ...]:
    if not isinstance(raw, list):
        raise DefinitionError("score_bands", "a list")
    bands: list[ScoreBand] = []
    for index, band in enumerate(raw):
        where = f"score_bands[{index}]"
        if not isinstance(band, Mapping):
            raise DefinitionError(where, "a band is an object")
        lower = _points(band.get("ge"), f"{where}.ge")
        upper = _points(band.get("le"), f"{where}.le")
        if lower > upper:
            raise DefinitionError(where, "the lower bound is above the upper bound")
        if bands and lower != bands[-1].upper + 1:
            raise DefinitionError(f"{where}.ge",
                                  f"bands follow each other: expected {bands[-1].upper + 1}")
        bands.append(ScoreBand(lower=lower, upper=upper, code=_text(band, "code", where),
                               meaning=_languages(band.get("meaning"), f"{where}.meaning")))
    if bands and (bands[0].lower > score_range[0] or bands[-1].upper < score_range[1]):
        raise DefinitionError("score_bands", "the bands do not cover every score from "
                              f"{score_range[0]} to {score_range[1]}")
    return tuple(bands)


# --- Scoring answers ------------------------------------------------------------------


def score(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> Scored:
    """The summed score of a complete set of answers.

    A choice is answered with an option's code, a quantity with a number (``Decimal``,
    ``int`` or a text such as ``"94.5"``). ``AnswerError`` names the first item whose
    answer is missing or does not fit; an answer to no item is refused too.
    """
    unknown = sorted(set(answers) - {item.link_id for item in questionnaire.items})
    if unknown:
        raise AnswerError(unknown[0], "not an item of this questionnaire")
    checked: dict[str, Any] = {}
    for item in questionnaire.items:
        if answers.get(item.link_id) is None:
            raise AnswerError(item.link_id, "not answered")
        checked[item.link_id] = _checked(item, answers[item.link_id])
    points: dict[str, int] = {}
    for item in questionnaire.items:
        value = checked[item.link_id]
        if item.kind == CHOICE:
            option = item.option(value)
            assert option is not None  # checked above
            points[item.link_id] = option.points
        else:
            band = next((band for band in item.bands
                         if band.applies(checked) and band.holds(value)), None)
            if item.bands and band is None:
                raise AnswerError(item.link_id, "no band of the definition holds this value")
            points[item.link_id] = band.points if band else 0
    total = sum(points.values())
    return Scored(total=total, points=points, band=band_of(questionnaire, total),
                  answers=checked)


def band_of(questionnaire: Questionnaire, total: int) -> ScoreBand | None:
    return next((band for band in questionnaire.score_bands
                 if band.lower <= total <= band.upper), None)


def _checked(item: Item, value: Any) -> Any:
    if item.kind == CHOICE:
        if not isinstance(value, str) or item.option(value) is None:
            codes = ", ".join(option.code for option in item.options)
            raise AnswerError(item.link_id, f"one of {codes}")
        return value
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise AnswerError(item.link_id, "a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AnswerError(item.link_id, "a number") from None
    if not number.is_finite():
        raise AnswerError(item.link_id, "a finite number")
    if item.minimum is not None and number < item.minimum:
        raise AnswerError(item.link_id, f"at least {item.minimum}")
    if item.maximum is not None and number > item.maximum:
        raise AnswerError(item.link_id, f"at most {item.maximum}")
    return number
