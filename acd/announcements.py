"""When a waiting caller hears their position and expected wait, and what they hear.

    at = next_announcement(caller.entered_at, now, spec.announce_every_s)   # None: never
    text = announcement_text(position=3, expected_wait_s=231.0)
    # "You are number 3 in line. Your expected wait is about 4 minutes."

Announcements fall every `every_s` seconds after the caller joined (not at
joining: they have just heard the queue's greeting). The expected wait is
spoken in whole minutes rounded up, at least one; an unknown wait is left
out rather than guessed, and so is a wait at the estimate's ceiling.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from acd.expected_wait import DEFAULT_MAX_S


def next_announcement(entered_at: datetime, now: datetime, every_s: float) -> datetime | None:
    """The first announcement time after `now`; None when `every_s` is 0 (off)."""
    if every_s <= 0:
        return None
    waited = max(0.0, (now - entered_at).total_seconds())
    count = math.floor(waited / every_s) + 1
    return entered_at + timedelta(seconds=count * every_s)


def spoken_minutes(seconds: float) -> int:
    """Whole minutes, rounded up, at least 1."""
    return max(1, math.ceil(seconds / 60))


def announcement_text(position: int | None, expected_wait_s: float | None, *,
                      max_s: float = DEFAULT_MAX_S) -> str:
    """What to say; `None` leaves a part out (not announced, or unknown). May be empty."""
    parts: list[str] = []
    if position is not None:
        parts.append("You are next in line." if position == 1
                     else f"You are number {position} in line.")
    if expected_wait_s is not None and expected_wait_s < max_s:
        minutes = spoken_minutes(expected_wait_s)
        unit = "minute" if minutes == 1 else "minutes"
        parts.append(f"Your expected wait is about {minutes} {unit}.")
    return " ".join(parts)
