"""Expected wait from recent handle times, and when and what callers hear of it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from acd.announcements import announcement_text, next_announcement, spoken_minutes
from acd.expected_wait import HandleTimes, expected_wait_s
from tests.acd.clock import T0


def test_handle_times_keep_a_rolling_window() -> None:
    times = HandleTimes(window=3)
    assert times.mean() is None and len(times) == 0
    for seconds in (100, 200, 300, 400):
        times.add(seconds)
    assert len(times) == 3 and times.mean() == 300.0
    assert HandleTimes.from_history([10, 20, 30, 40], window=2).mean() == 35.0
    with pytest.raises(ValueError):
        times.add(-1)
    with pytest.raises(ValueError):
        HandleTimes(window=0)


def test_expected_wait_grows_with_position_and_shrinks_with_agents() -> None:
    assert expected_wait_s(1, 120.0, 1) == 60.0  # half the call in progress
    assert expected_wait_s(3, 120.0, 1) == 300.0
    assert expected_wait_s(3, 120.0, 2) == 150.0
    assert expected_wait_s(100, 600.0, 1) == 3600.0  # clamped
    assert expected_wait_s(100, 600.0, 1, max_s=900) == 900.0


def test_expected_wait_is_unknown_without_history_or_agents() -> None:
    assert expected_wait_s(2, None, 3) is None
    assert expected_wait_s(2, 120.0, 0) is None
    with pytest.raises(ValueError):
        expected_wait_s(0, 120.0, 1)


def test_announcements_fall_every_n_seconds_after_joining() -> None:
    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    assert next_announcement(T0, T0, 45) == at(45)
    assert next_announcement(T0, at(44.9), 45) == at(45)
    assert next_announcement(T0, at(45), 45) == at(90)
    assert next_announcement(T0, at(100), 45) == at(135)
    assert next_announcement(T0, at(100), 0) is None


def test_announcement_text() -> None:
    assert announcement_text(1, None) == "You are next in line."
    assert announcement_text(3, 231.0) == ("You are number 3 in line. "
                                           "Your expected wait is about 4 minutes.")
    assert announcement_text(None, 20.0) == "Your expected wait is about 1 minute."
    assert announcement_text(5, 3600.0) == "You are number 5 in line."  # at the ceiling
    assert announcement_text(None, None) == ""
    assert [spoken_minutes(s) for s in (0, 59, 60, 61, 600)] == [1, 1, 1, 2, 10]
