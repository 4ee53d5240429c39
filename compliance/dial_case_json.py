"""The JSON contract of a dial check, for tests, auditors and the CLI.

A case is one JSON object with ``DialCase``'s field names::

    {"callee_e164": "+18505550100", "callee_address_state": "FL",
     "now_utc": "2026-01-13T13:30:00Z", "recent_attempts": ["2026-01-12T20:00:00Z"],
     "on_national_dnc": false, "national_dnc_snapshot_date": "2026-01-02",
     "on_internal_dnc": false, "consent": "express_written",
     "message_kind": "telemarketing", "campaign": "c1"}

``callee_e164``, ``now_utc``, ``message_kind`` and ``campaign`` are required;
every other field, when absent, is taken from ``DialFacts``. Timestamps are
ISO 8601 with an offset (``Z`` or ``+00:00``); ``callee_address_state`` and
``national_dnc_snapshot_date`` may be null (no address on file, no snapshot).
A malformed number is not an input error: it is the answer ``invalid_number``.

The answer is ``DialDecision.to_dict()`` plus ``case`` (the facts decided
on, as JSON) and ``from_store`` (the fields that were looked up).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from compliance.dial_case import DialCase, DialCaseError, DialDecision
from compliance.dial_facts import REQUIRED_FIELDS, STORE_FIELDS, DialFacts, complete_case


def case_from_json(text: str, facts: DialFacts) -> tuple[DialCase, tuple[str, ...]]:
    """Parse a case; absent facts come from ``facts``.

    Returns the case and the names of the fields looked up. Raises
    ``DialCaseError`` naming the offending field (``case`` for the document).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DialCaseError("case", f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DialCaseError("case", "must be a JSON object")
    return case_from_mapping(document, facts)


def case_from_mapping(document: Mapping[str, Any],
                      facts: DialFacts) -> tuple[DialCase, tuple[str, ...]]:
    """Like ``case_from_json``, from an already decoded JSON object."""
    known = REQUIRED_FIELDS + STORE_FIELDS
    for name in document:
        if name not in known:
            raise DialCaseError(name, "unknown field; known: " + ", ".join(known))
    given = {name: _PARSERS[name](name, value) for name, value in document.items()}
    return complete_case(given, facts)


def case_to_json(case: DialCase) -> dict[str, Any]:
    """The case as the JSON object ``case_from_json`` reads back."""
    snapshot = case.national_dnc_snapshot_date
    return {
        "callee_e164": case.callee_e164,
        "callee_address_state": case.callee_address_state,
        "now_utc": _stamp(case.now_utc),
        "recent_attempts": [_stamp(at) for at in case.recent_attempts],
        "on_national_dnc": case.on_national_dnc,
        "national_dnc_snapshot_date": snapshot.isoformat() if snapshot else None,
        "on_internal_dnc": case.on_internal_dnc,
        "consent": case.consent.value,
        "message_kind": case.message_kind.value,
        "campaign": case.campaign,
    }


def answer_json(case: DialCase, decision: DialDecision,
                from_store: tuple[str, ...] = ()) -> dict[str, Any]:
    """The contract's answer: the decision, the case decided on, the looked-up fields."""
    return decision.to_dict() | {"case": case_to_json(case), "from_store": list(from_store)}


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise DialCaseError(name, f"must be a string, not {json.dumps(value)}")
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise DialCaseError(name, f"must be true or false, not {json.dumps(value)}")
    return value


def _timestamp(name: str, value: object) -> datetime:
    text = _text(name, value)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise DialCaseError(name, f"{text!r} is not an ISO 8601 timestamp") from None
    if stamp.tzinfo is None:
        raise DialCaseError(name, f"{text!r} has no offset; write it in UTC with a Z")
    return stamp


def _timestamps(name: str, value: object) -> tuple[datetime, ...]:
    if not isinstance(value, list):
        raise DialCaseError(name, "must be a list of ISO 8601 timestamps")
    return tuple(_timestamp(name, item) for item in value)


def _day(name: str, value: object) -> date | None:
    if value is None:
        return None
    text = _text(name, value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DialCaseError(name, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _state(name: str, value: object) -> str | None:
    return None if value is None else _text(name, value).upper()


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


_PARSERS: dict[str, Callable[[str, object], object]] = {
    "callee_e164": _text,
    "now_utc": _timestamp,
    "message_kind": _text,
    "campaign": _text,
    "callee_address_state": _state,
    "recent_attempts": _timestamps,
    "on_national_dnc": _flag,
    "national_dnc_snapshot_date": _day,
    "on_internal_dnc": _flag,
    "consent": _text,
}
