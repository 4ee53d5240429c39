"""Attempt caps: rolling, closed windows in elapsed time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from compliance.dial_case import Consent, MessageKind, Reason
from compliance.dialing_rules import decide
from compliance.frequency_caps import attempts_within
from tests.compliance.dial_cases import TUESDAY_1500Z, ago, case

NOW = TUESDAY_1500Z
MIAMI, OKLAHOMA_CITY, BALTIMORE = "+13055550100", "+14055550100", "+14105550100"
HOUSTON, NEW_YORK = "+17135550100", "+12125550100"
H, D = timedelta(hours=1), timedelta(days=1)


def _decide(number: str, kind: MessageKind, attempts: list[timedelta],
            **changes: object) -> tuple[Reason, str]:
    decision = decide(case(callee_e164=number, message_kind=kind,
                           recent_attempts=tuple(NOW - age for age in attempts), **changes))
    return decision.reason, decision.rule_id


def test_windows_are_closed_at_both_ends() -> None:
    attempts = [NOW - 24 * H, NOW, NOW - 24 * H - timedelta(seconds=1),
                NOW + timedelta(seconds=1)]
    assert attempts_within(attempts, NOW, 24 * H) == 2


@pytest.mark.parametrize("number", [MIAMI, OKLAHOMA_CITY, BALTIMORE])
@pytest.mark.parametrize(("attempts", "expected"), [
    ([], Reason.OK),
    ([1 * H, 2 * H], Reason.OK),
    ([1 * H, 2 * H, 24 * H], Reason.FREQUENCY_CAP),       # exactly 24 h old still counts
    ([1 * H, 2 * H, 24 * H + timedelta(seconds=1)], Reason.OK),
    ([0 * H, 0 * H, 0 * H], Reason.FREQUENCY_CAP),        # attempts at this very instant
    ([1 * H, 2 * H, 3 * H, 4 * H], Reason.FREQUENCY_CAP),
    ([25 * H, 26 * H, 27 * H, 2 * D], Reason.OK),         # all older than the window
])
def test_telemarketing_cap_in_fl_ok_md(number: str, attempts: list[timedelta],
                                       expected: Reason) -> None:
    reason, rule_id = _decide(number, MessageKind.TELEMARKETING, attempts)
    assert reason is expected
    if expected is Reason.FREQUENCY_CAP:
        assert rule_id.startswith("cap.state.") and rule_id.endswith(".telemarketing_24h")


@pytest.mark.parametrize(("number", "address", "expected"), [
    (HOUSTON, None, Reason.OK),                  # Texas has no cap
    (NEW_YORK, None, Reason.OK),
    (NEW_YORK, "FL", Reason.FREQUENCY_CAP),      # a Florida address brings Florida's cap
    (NEW_YORK, "MD", Reason.FREQUENCY_CAP),
])
def test_telemarketing_cap_follows_the_states_in_play(number: str, address: str | None,
                                                      expected: Reason) -> None:
    reason, _ = _decide(number, MessageKind.TELEMARKETING, [1 * H, 2 * H, 3 * H],
                        callee_address_state=address)
    assert reason is expected


def test_informational_calls_have_no_cap() -> None:
    reason, _ = _decide(MIAMI, MessageKind.INFORMATIONAL, [k * H for k in range(10)])
    assert reason is Reason.OK


@pytest.mark.parametrize("consent", list(Consent))
@pytest.mark.parametrize(("attempts", "expected", "rule_id"), [
    ([], Reason.OK, "ok"),
    ([24 * H], Reason.FREQUENCY_CAP, "cap.healthcare.24h"),       # closed window
    ([24 * H + timedelta(seconds=1)], Reason.OK, "ok"),
    ([1 * H], Reason.FREQUENCY_CAP, "cap.healthcare.24h"),
    ([2 * D, 4 * D], Reason.OK, "ok"),
    ([2 * D, 4 * D, 7 * D], Reason.FREQUENCY_CAP, "cap.healthcare.7d"),  # 7 days old counts
    ([2 * D, 4 * D, 7 * D + timedelta(seconds=1)], Reason.OK, "ok"),
    ([30 * H, 3 * D, 6 * D, 10 * D], Reason.FREQUENCY_CAP, "cap.healthcare.7d"),
])
def test_healthcare_caps_with_or_without_consent(consent: Consent, attempts: list[timedelta],
                                                 expected: Reason, rule_id: str) -> None:
    assert _decide(NEW_YORK, MessageKind.HEALTHCARE_REMINDER, attempts,
                   consent=consent) == (expected, rule_id)


def test_a_day_across_a_dst_switch_is_24_elapsed_hours() -> None:
    # Sunday 2026-03-08 10:00 EDT. An attempt on Saturday at 09:30 EST reads
    # 24.5 hours earlier on the wall clock but is only 23.5 hours old: it counts.
    now = datetime.fromisoformat("2026-03-08T14:00:00Z")
    health = MessageKind.HEALTHCARE_REMINDER
    counted = datetime.fromisoformat("2026-03-07T14:30:00Z")
    assert decide(case(now_utc=now, message_kind=health,
                       recent_attempts=(counted,))).reason is Reason.FREQUENCY_CAP
    assert decide(case(now_utc=now, message_kind=health, recent_attempts=(
        ago(now, hours=24, seconds=1),))).reason is Reason.OK


def test_attempts_after_the_clock_are_not_counted() -> None:
    later = (NOW + timedelta(minutes=5),)
    decision = decide(case(message_kind=MessageKind.HEALTHCARE_REMINDER,
                           recent_attempts=later))
    assert decision.reason is Reason.OK


def test_cap_decision_reports_the_count() -> None:
    decision = decide(case(callee_e164=MIAMI, recent_attempts=(
        ago(NOW, hours=1), ago(NOW, hours=2), ago(NOW, hours=3), ago(NOW, hours=4))))
    assert decision.rule_id == "cap.state.FL.telemarketing_24h"
    assert decision.to_dict()["attempts_in_window"] == 4
