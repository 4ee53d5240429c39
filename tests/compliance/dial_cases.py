"""Building dial cases for the tests: an allowed baseline, changed per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from compliance.dial_case import Consent, DialCase, MessageKind

#: A Tuesday, 10:00 in New York, 09:00 in Chicago.
TUESDAY_1500Z = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)

#: Manhattan: one state, one zone, no state rule of its own.
NEW_YORK = "+12125550100"


def utc(text: str) -> datetime:
    """A UTC instant from ISO text ending in Z."""
    return datetime.fromisoformat(text)


def ago(now: datetime, **delta: float) -> datetime:
    """``now`` minus a timedelta given by keywords."""
    return now - timedelta(**delta)


def case(**changes: Any) -> DialCase:
    """An allowed telemarketing case, with ``changes`` applied.

    ``now_utc`` may be given as ISO text. The registry snapshot is a day old
    unless ``national_dnc_snapshot_date`` is given.
    """
    fields: dict[str, Any] = {
        "callee_e164": NEW_YORK,
        "now_utc": TUESDAY_1500Z,
        "message_kind": MessageKind.TELEMARKETING,
        "campaign": "c1",
        "consent": Consent.EXPRESS_WRITTEN,
        "on_internal_dnc": False,
        "on_national_dnc": False,
        "recent_attempts": (),
        "callee_address_state": None,
    }
    if isinstance(changes.get("now_utc"), str):
        changes["now_utc"] = utc(changes["now_utc"])
    fields |= changes
    fields.setdefault("national_dnc_snapshot_date", fields["now_utc"].date() - timedelta(days=1))
    return DialCase(**fields)
