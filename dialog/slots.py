"""Slots: the values a state asks the caller for, parsed from words or keys.

    parse_yes_no("yeah that's right")  -> True
    parse_slot(SlotRules(SlotType.DATE, future=True), text="next Tuesday", today=d)
        -> Filled(date(...))

`parse_slot` answers `Filled` (understood and allowed), `Rejected` (understood
but outside the rules, e.g. a past date) or None (not understood). Every slot
type but free text also takes DTMF: 1 = yes and 2 = no, digits as typed,
dates as MMDD and times as HHMM.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, time

from dialog.datetimes import parse_date, parse_time
from dialog.numbers import parse_digits, parse_number, tokenize


class SlotType(enum.StrEnum):
    """What kind of value a slot holds."""

    YES_NO = "yes_no"
    DIGITS = "digits"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    TEXT = "text"


_YES_WORDS = frozenset({
    "yes", "yeah", "yea", "yep", "yup", "ya", "yah", "sure", "correct", "right",
    "affirmative", "absolutely", "definitely", "ok", "okay", "exactly", "certainly",
    "confirm", "confirmed", "true", "perfect", "fine", "please", "mhm", "uhhuh", "alright",
})
_NO_WORDS = frozenset({"no", "nope", "nah", "negative", "incorrect", "wrong", "nay", "never"})
_YES_PHRASES = ("of course", "uh huh", "go ahead", "that's it", "sounds good", "do it",
                "i do", "it is", "that is", "please do", "that works", "all right")
_NO_PHRASES = ("not right", "not correct", "don't", "do not", "not really", "no thanks",
               "i don't think so", "that's not", "that is not", "not that", "isn't", "wasn't",
               "it's not", "not quite", "no way")


def _contains(words: list[str], phrase: str) -> bool:
    target = phrase.split()
    return any(words[i:i + len(target)] == target for i in range(len(words)))


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the answer is neither or both.

    Negated agreement ("that's not right", "I don't think so") is a no.
    """
    words = tokenize(text)
    if any(_contains(words, phrase) for phrase in _NO_PHRASES):
        return False
    yes = any(w in _YES_WORDS for w in words) or any(_contains(words, p) for p in _YES_PHRASES)
    no = any(w in _NO_WORDS for w in words)
    if yes == no:
        return None
    return yes


@dataclass(frozen=True)
class SlotRules:
    """The constraints a flow puts on one slot."""

    type: SlotType
    min_length: int | None = None  # digits
    max_length: int | None = None  # digits
    minimum: int | None = None  # number
    maximum: int | None = None  # number
    future: bool = False  # date: strictly after today
    with_time: bool = False  # date: also look for a time said with it


@dataclass(frozen=True)
class Filled:
    """A value understood and allowed; `time` is a time said along with a date."""

    value: bool | str | int | date | time
    time: time | None = None


@dataclass(frozen=True)
class Rejected:
    """A value understood but outside the slot's rules."""

    value: object
    reason: str


SlotResult = Filled | Rejected | None


def _from_dtmf(rules: SlotRules, keys: str, today: date) -> SlotResult:
    kind = rules.type
    if kind is SlotType.YES_NO:
        return Filled(keys == "1") if keys in ("1", "2") else None
    if kind is SlotType.DIGITS:
        return _check(rules, keys, today)
    if kind is SlotType.NUMBER:
        return _check(rules, int(keys), today) if keys.isdigit() else None
    if kind is SlotType.DATE and len(keys) == 4 and keys.isdigit():
        found = parse_date(f"{keys[:2]}/{keys[2:]}", today)
        return _check(rules, found, today) if found else None
    if kind is SlotType.TIME and len(keys) in (3, 4) and keys.isdigit():
        found_time = parse_time(keys)
        return Filled(found_time) if found_time else None
    return None


def _check(rules: SlotRules, value: str | int | date, today: date,
           said_time: time | None = None) -> SlotResult:
    if isinstance(value, str):
        if not value.isdigit():
            return None
        if rules.min_length is not None and len(value) < rules.min_length:
            return Rejected(value, f"fewer than {rules.min_length} digits")
        if rules.max_length is not None and len(value) > rules.max_length:
            return Rejected(value, f"more than {rules.max_length} digits")
    elif isinstance(value, date):
        if rules.future and value <= today:
            return Rejected(value, "not after today")
    else:
        if rules.minimum is not None and value < rules.minimum:
            return Rejected(value, f"below {rules.minimum}")
        if rules.maximum is not None and value > rules.maximum:
            return Rejected(value, f"above {rules.maximum}")
    return Filled(value, said_time)


def parse_slot(rules: SlotRules, *, text: str = "", dtmf: str = "",
               today: date) -> SlotResult:
    """Parse one caller turn (speech `text` or `dtmf` keys) into the slot's value."""
    keys = dtmf.rstrip("#")
    if keys:
        return _from_dtmf(rules, keys, today)
    text = text.strip()
    if not text:
        return None
    kind = rules.type
    if kind is SlotType.YES_NO:
        answer = parse_yes_no(text)
        return None if answer is None else Filled(answer)
    if kind is SlotType.DIGITS:
        digits = parse_digits(text)
        return None if digits is None else _check(rules, digits, today)
    if kind is SlotType.NUMBER:
        number = parse_number(text)
        return None if number is None else _check(rules, number, today)
    if kind is SlotType.DATE:
        found = parse_date(text, today)
        if found is None:
            return None
        said_time = parse_time(text, bare=False) if rules.with_time else None
        return _check(rules, found, today, said_time)
    if kind is SlotType.TIME:
        found_time = parse_time(text)
        return None if found_time is None else Filled(found_time)
    return Filled(text)
