"""How fast one campaign may start calls on one node: a token bucket.

``calls_per_s`` tokens accrue per second up to ``burst`` (1 by default: calls
are spread evenly, never bunched); each new call takes one. Pure: the
caller passes the clock (monotonic seconds), so tests use a fake one.
"""

from __future__ import annotations


class CallPacer:
    """A token bucket of new calls."""

    def __init__(self, calls_per_s: float, now: float, burst: float = 1.0,
                 tokens: float | None = None) -> None:
        """Start with ``tokens`` at ``now`` (None: full); at least one, so the
        first call may go at once."""
        if calls_per_s <= 0:
            raise ValueError("calls_per_s must be above 0")
        self.rate = calls_per_s
        self.burst = max(burst, 1.0)
        self._tokens = self.burst if tokens is None else min(max(tokens, 1.0), self.burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def set_rate(self, calls_per_s: float, now: float) -> None:
        """Change the rate from ``now`` on (a campaign file updated)."""
        self._refill(now)
        self.rate = calls_per_s

    def available(self, now: float) -> int:
        """How many calls may start at ``now``."""
        self._refill(now)
        return int(self._tokens + 1e-9)

    def take(self, now: float, n: int = 1) -> None:
        """Start ``n`` calls at ``now`` (at most `available`)."""
        self._refill(now)
        if n > self.available(now):
            raise ValueError(f"{n} call(s) asked, {self.available(now)} available")
        self._tokens -= n

    def refund(self, n: int = 1) -> None:
        """Give back ``n`` calls taken but never placed (a dial the rules refused)."""
        self._tokens = min(self.burst, self._tokens + n)

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next call may start (0: now)."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)
