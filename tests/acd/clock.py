"""A clock the tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 6, 2, 9, 0, 0, tzinfo=UTC)


class ManualClock:
    """Returns `now`; `advance` moves it on."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
