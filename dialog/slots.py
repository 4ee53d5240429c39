"""Slots: the values a state asks the caller for, parsed from words or keys.

    parse_yes_no("yeah that's right")  -> True   (see dialog.yes_no)
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
from dialog.numbers import parse_digit_answer, parse_number
from dialog.yes_no import parse_yes_no

__all__ = ["Filled", "Rejected", "SlotResult", "SlotRules", "SlotType", "parse_slot",
           "parse_yes_no"]


class SlotType(enum.StrEnum):
    """What kind of value a slot holds."""

    YES_NO = "yes_no"
    DIGITS = "digits"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    TEXT = "text"


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
        digits = parse_digit_answer(text)
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
