"""Pure parts of the scheduler: the call pacer on a fake clock, and the first moment
a time-bound refusal of the dialing rules lifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance.dial_case import DialCase, MessageKind
from compliance.dialing_rules import decide
from outbound.next_allowed import next_allowed
from outbound.pacing import CallPacer


def test_pacer_spreads_calls_at_its_rate() -> None:
    pacer = CallPacer(2.0, now=100.0)
    assert pacer.available(100.0) == 1
    pacer.take(100.0)
    assert pacer.available(100.0) == 0 and pacer.wait(100.0) == pytest.approx(0.5)
    assert pacer.available(100.49) == 0
    assert pacer.available(100.5) == 1
    pacer.take(100.5)
    # Idle time does not bank calls beyond the burst: no bunching after a pause.
    assert pacer.available(200.0) == 1
    with pytest.raises(ValueError):
        pacer.take(200.0, 2)


def test_pacer_rate_changes_and_bursts() -> None:
    pacer = CallPacer(1.0, now=0.0, burst=3)
    assert pacer.available(0.0) == 3
    pacer.take(0.0, 3)
    pacer.set_rate(10.0, 0.0)
    assert pacer.available(0.1) == 1 and pacer.available(0.3) == 3
    pacer.take(0.3, 3)
    pacer.refund()  # one was refused by the rules: it may go again at once
    assert pacer.available(0.3) == 1
    pacer.refund(5)
    assert pacer.available(0.3) == 3  # never beyond the burst
    with pytest.raises(ValueError):
        CallPacer(0, now=0.0)


NY = "+12125550141"


def _case(now: datetime, **changes: object) -> DialCase:
    values: dict[str, object] = {"callee_e164": NY, "now_utc": now, "campaign": "c1",
                                 "message_kind": MessageKind.HEALTHCARE_REMINDER}
    values.update(changes)
    return DialCase(**values)  # type: ignore[arg-type]


def test_before_the_window_the_next_moment_is_08_00_local() -> None:
    early = datetime(2026, 1, 13, 12, 30, tzinfo=UTC)  # 07:30 in New York
    assert decide(_case(early)).reason.value == "calling_hours"
    assert next_allowed(_case(early)) == datetime(2026, 1, 13, 13, 0, tzinfo=UTC)


def test_after_the_window_the_next_moment_is_tomorrow_08_00() -> None:
    late = datetime(2026, 1, 14, 2, 0, tzinfo=UTC)  # 21:00 in New York
    assert next_allowed(_case(late)) == datetime(2026, 1, 14, 13, 0, tzinfo=UTC)


def test_a_frequency_cap_lifts_just_after_the_attempt_leaves_the_window() -> None:
    now = datetime(2026, 1, 13, 19, 0, tzinfo=UTC)  # 14:00 in New York
    last = now - timedelta(hours=3, minutes=20)
    case = _case(now, recent_attempts=(last,))
    assert decide(case).reason.value == "frequency_cap"
    assert next_allowed(case) == last + timedelta(hours=24, microseconds=1)
    # ... unless the calling hours are closed then: 06:40 in New York waits for 08:00.
    early = _case(now - timedelta(hours=8), recent_attempts=(last - timedelta(hours=8),))
    assert next_allowed(early) == datetime(2026, 1, 14, 13, 0, tzinfo=UTC)


def test_a_multi_zone_number_waits_for_every_zone() -> None:
    # 541 (Oregon) spans Pacific and Mountain time: 08:00 Pacific is the first
    # moment both zones allow, though Mountain opens an hour earlier.
    now = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)  # 07:30 Mountain, 06:30 Pacific
    case = _case(now, callee_e164="+15415550100")
    assert decide(case).reason.value == "calling_hours"
    assert next_allowed(case) == datetime(2026, 1, 13, 16, 0, tzinfo=UTC)


def test_answers_without_attempts_are_shared_within_an_area_code_and_hour() -> None:
    late = datetime(2026, 1, 14, 2, 10, tzinfo=UTC)
    first = next_allowed(_case(late))
    assert next_allowed(_case(late + timedelta(minutes=40), callee_e164="+12125550199")) == first
    assert next_allowed(_case(late, callee_e164="+13125550100")) == datetime(
        2026, 1, 14, 14, 0, tzinfo=UTC)  # Chicago opens an hour later


def test_refusals_that_time_does_not_lift_have_no_next_moment() -> None:
    now = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
    assert next_allowed(_case(now, on_internal_dnc=True)) is None
