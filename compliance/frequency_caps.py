"""How often one number may be called: attempt caps over rolling windows.

House policy (issue 9):

- telemarketing to a number of FL, OK or MD (or to a callee whose address is
  there): at most 3 attempts of the same campaign within 24 hours;
- healthcare reminders: at most 1 attempt within 24 hours and 3 within
  7 days, with or without consent.

Windows are rolling, measured in elapsed time (a day across a daylight-saving
switch is still 24 hours), and closed: an attempt exactly 24 hours old still
counts. Every attempt counts, answered or not. An attempt stamped after the
decision's clock is not counted: replaying a past moment must give the answer
that moment had.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from compliance.dial_case import MessageKind

#: States whose telemarketing cap applies, and the cap.
TELEMARKETING_CAP_STATES: frozenset[str] = frozenset({"FL", "OK", "MD"})
TELEMARKETING_CAP = 3
HEALTHCARE_CAPS: tuple[tuple[timedelta, int], ...] = ((timedelta(hours=24), 1),
                                                      (timedelta(days=7), 3))


@dataclass(frozen=True)
class CapReached:
    """A cap the next attempt would break."""

    rule_id: str
    detail: str
    attempts_in_window: int


def attempts_within(attempts: Iterable[datetime], now: datetime, window: timedelta) -> int:
    """How many ``attempts`` fall in the closed window ``[now - window, now]``."""
    return sum(1 for at in attempts if now - window <= at <= now)


def cap_reached(kind: MessageKind, states: Iterable[str], attempts: Sequence[datetime],
                now: datetime) -> CapReached | None:
    """The first cap that one more attempt now would exceed, or None."""
    if kind is MessageKind.HEALTHCARE_REMINDER:
        for window, cap in HEALTHCARE_CAPS:
            count = attempts_within(attempts, now, window)
            if count >= cap:
                return CapReached(f"cap.healthcare.{_span(window)}",
                                  f"{count} attempts within {_span(window)}; at most {cap}",
                                  count)
    elif kind is MessageKind.TELEMARKETING:
        for state in sorted(TELEMARKETING_CAP_STATES.intersection(states)):
            window = timedelta(hours=24)
            count = attempts_within(attempts, now, window)
            if count >= TELEMARKETING_CAP:
                return CapReached(f"cap.state.{state}.telemarketing_24h",
                                  f"{count} attempts of this campaign within 24h; "
                                  f"{state} allows at most {TELEMARKETING_CAP}", count)
    return None


def _span(window: timedelta) -> str:
    hours = int(window.total_seconds()) // 3600
    return f"{hours}h" if hours <= 24 else f"{window.days}d"
