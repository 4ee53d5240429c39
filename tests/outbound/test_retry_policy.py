"""Retry scheduling per outcome: delays in order (the last repeats), the cap on
attempts counted over every outcome, and ``unknown`` following ``failed``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outbound.retry_policy import RetryPolicy, RetryRule, parse_duration

T = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.mark.parametrize(("text", "seconds"), [
    (90, 90), (1.5, 1.5), ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400),
    (" 0.5m ", 30)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["10", "ten minutes", "5w", True, -1, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


POLICY = RetryPolicy({"busy": RetryRule((10 * M, 30 * M), 4),
                      "no_answer": RetryRule((120 * M,), 2),
                      "failed": RetryRule((5 * M,), 2)})


@pytest.mark.parametrize(("outcome", "made", "due"), [
    ("busy", 1, T + 10 * M),          # first delay before the 2nd attempt
    ("busy", 2, T + 30 * M),
    ("busy", 3, T + 30 * M),          # the last delay repeats
    ("busy", 4, None),                # max_attempts reached
    ("no_answer", 1, T + 120 * M),
    ("no_answer", 2, None),
    ("machine", 1, None),             # no rule: not retried
    ("answered", 1, None),
    ("blocked", 1, None),
    ("unknown", 1, T + 5 * M),        # follows failed
    ("unknown", 2, None),
])
def test_next_attempt(outcome: str, made: int, due: datetime | None) -> None:
    assert POLICY.next_attempt_at(outcome, made, T) == due


def test_attempts_count_whatever_their_outcomes() -> None:
    # Busy twice, then no answer: 3 attempts made, no_answer allows 2 in all.
    assert POLICY.next_attempt_at("no_answer", 3, T) is None


def test_an_explicit_unknown_rule_wins_and_json_round_trips() -> None:
    policy = RetryPolicy({"failed": RetryRule((M,), 3), "unknown": RetryRule((), 1)})
    assert policy.next_attempt_at("unknown", 1, T) is None
    assert RetryPolicy.from_json(POLICY.to_json()) == POLICY


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one delay"):
        RetryRule((), 2)
    with pytest.raises(ValueError, match="retryable"):
        RetryPolicy({"answered": RetryRule((M,), 2)})
