"""How long a waiting caller can expect to wait, from recent handle times.

    times = HandleTimes(window=20)            # or HandleTimes.from_history(store values)
    times.add(185.0)                          # talk + wrap-up of a finished call
    expected_wait_s(position=3, mean_handle_s=times.mean(), agents_staffed=2)   # 231.25

The estimate is the mean of the last `window` handle times (talk plus
wrap-up) times the calls ahead, divided by the agents staffed: ``mean x
(position - 0.5) / staffed``; the half call is the one already in progress,
on average half done. It is clamped to ``[0, max_s]`` and None, "unknown",
without history or without any agent staffed: then nothing is promised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

DEFAULT_WINDOW = 20
# Estimates beyond this are announced as this (a caller cannot use "97 minutes").
DEFAULT_MAX_S = 3600.0


class HandleTimes:
    """The last `window` handle times of one queue, in seconds."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        """An empty history keeping at most `window` values."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self._times: deque[float] = deque(maxlen=window)

    @classmethod
    def from_history(cls, oldest_first: Iterable[float],
                     window: int = DEFAULT_WINDOW) -> HandleTimes:
        """A history seeded with stored handle times (oldest first), e.g. at start."""
        times = cls(window)
        for seconds in oldest_first:
            times.add(seconds)
        return times

    def __len__(self) -> int:
        return len(self._times)

    def add(self, seconds: float) -> None:
        """Note a finished call's handle time; negative values are refused."""
        if seconds < 0:
            raise ValueError(f"a handle time cannot be negative, got {seconds}")
        self._times.append(float(seconds))

    def mean(self) -> float | None:
        """The mean of the kept handle times, or None without any."""
        return sum(self._times) / len(self._times) if self._times else None


def expected_wait_s(position: int, mean_handle_s: float | None, agents_staffed: int, *,
                    max_s: float = DEFAULT_MAX_S) -> float | None:
    """Seconds the caller at `position` (1 = next) can expect to wait, or None if unknown.

    `agents_staffed` counts the agents working the queue (ready, offered, on a
    call or in wrap-up; not those not ready or logged out).
    """
    if position < 1:
        raise ValueError(f"position starts at 1, got {position}")
    if mean_handle_s is None or agents_staffed < 1:
        return None
    estimate = mean_handle_s * (position - 0.5) / agents_staffed
    return min(max(estimate, 0.0), max_s)
