"""When a contact is called again after an attempt that reached nobody.

A campaign's policy has one rule per retryable outcome: ``busy``,
``no_answer``, ``machine``, ``failed`` and ``unknown`` (the node died after
the INVITE, so nobody knows whether the phone rang). A rule is the delays
before the next attempts and the most attempts the contact may get:

    busy: {delays: [10m, 30m], max_attempts: 3}

After the n-th attempt ended with that outcome, the next attempt (n+1) is due
``delays[n-1]`` after it ended (the last delay repeats), unless n already
reached ``max_attempts``. Attempts are counted whatever their outcomes: a
contact who was busy twice and then did not answer has had 3 attempts.

House choice for ``unknown``: a campaign that gives no rule for it uses its
``failed`` rule, so a crash costs the contact one attempt (which the
frequency caps count, since the phone may have rung) and no more than a
failure would. Answered calls and the dialing rules' refusals are never
retried here: the rules' time-bound refusals are deferred by the scheduler
instead, without using an attempt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: Outcomes a policy may retry.
RETRYABLE = ("busy", "no_answer", "machine", "failed", "unknown")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``90`` (seconds), ``"90s"``, ``"10m"``, ``"2h"`` or ``"1d"`` as a timedelta.

    Raises ValueError for anything else, or a negative value.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 10m, 2h or 1d")
    if seconds < 0:
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class RetryRule:
    """The delays before the next attempts, and the most attempts in all."""

    delays: tuple[timedelta, ...]
    max_attempts: int

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_attempts > 1 and not self.delays:
            raise ValueError("a rule that retries needs at least one delay")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, delays in seconds (how the store keeps it)."""
        return {"delays_s": [d.total_seconds() for d in self.delays],
                "max_attempts": self.max_attempts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetryRule:
        """The rule `to_json` wrote."""
        return cls(tuple(timedelta(seconds=float(s)) for s in data["delays_s"]),
                   int(data["max_attempts"]))


@dataclass(frozen=True)
class RetryPolicy:
    """A campaign's rules per outcome; outcomes without a rule are not retried."""

    rules: Mapping[str, RetryRule]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rules) - set(RETRYABLE))
        if unknown:
            raise ValueError(f"no retries for {unknown}; retryable: {', '.join(RETRYABLE)}")

    def rule_for(self, outcome: str) -> RetryRule | None:
        """The rule that applies after ``outcome`` (``unknown`` falls back to ``failed``)."""
        rule = self.rules.get(outcome)
        if rule is None and outcome == "unknown":
            return self.rules.get("failed")
        return rule

    def next_attempt_at(self, outcome: str, attempts_made: int,
                        ended_at: datetime) -> datetime | None:
        """When attempt ``attempts_made + 1`` is due after one that ended with
        ``outcome`` at ``ended_at``; None when the contact is done."""
        rule = self.rule_for(outcome)
        if rule is None or attempts_made >= rule.max_attempts:
            return None
        return ended_at + rule.delays[min(attempts_made, len(rule.delays)) - 1]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the store."""
        return {outcome: rule.to_json() for outcome, rule in sorted(self.rules.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """The policy `to_json` wrote."""
        return cls({outcome: RetryRule.from_json(rule) for outcome, rule in data.items()})
