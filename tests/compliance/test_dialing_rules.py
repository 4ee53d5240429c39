"""The ordered decision: DNC lists, consent, and which failing check wins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from compliance.dial_case import Consent, DialCase, DialCaseError, MessageKind, Reason
from compliance.dialing_rules import SNAPSHOT_STALE_OR_MISSING, decide
from tests.compliance.dial_cases import TUESDAY_1500Z, ago, case

HEALTH, INFO, SALES = (MessageKind.HEALTHCARE_REMINDER, MessageKind.INFORMATIONAL,
                       MessageKind.TELEMARKETING)
NONE, EXPRESS, WRITTEN = Consent.NONE, Consent.EXPRESS, Consent.EXPRESS_WRITTEN

# Every check fails at once: a Canadian number on both lists, no consent, three
# attempts within 24 h, Sunday 06:00 in Alabama. Each step of the ladder
# repairs the failing check, and the next one in the order shows.
_SUNDAY_0600_CST = datetime(2026, 1, 18, 12, 0, tzinfo=UTC)
_EVERYTHING_WRONG: dict[str, Any] = {
    "callee_e164": "+14165550100",
    "callee_address_state": "AL",
    "on_internal_dnc": True,
    "on_national_dnc": True,
    "consent": EXPRESS,
    "recent_attempts": tuple(ago(_SUNDAY_0600_CST, hours=h) for h in (1, 2, 3)),
    "now_utc": _SUNDAY_0600_CST,
}
_LADDER: list[tuple[dict[str, Any], Reason]] = [
    ({}, Reason.INVALID_NUMBER),
    ({"callee_e164": "+18505550100"}, Reason.INTERNAL_DNC),           # FL panhandle
    ({"on_internal_dnc": False}, Reason.NATIONAL_DNC),
    ({"on_national_dnc": False}, Reason.NO_CONSENT),
    ({"consent": WRITTEN}, Reason.FREQUENCY_CAP),
    ({"recent_attempts": ()}, Reason.HOLIDAY_OR_SUNDAY),
    ({"now_utc": datetime(2026, 1, 13, 12, 0, tzinfo=UTC)}, Reason.CALLING_HOURS),  # Tue 07:00 E
    ({"now_utc": datetime(2026, 1, 13, 13, 30, tzinfo=UTC)}, Reason.MULTI_TIMEZONE_UNSAFE),
    ({"now_utc": datetime(2026, 1, 13, 15, 0, tzinfo=UTC)}, Reason.OK),
]


def _ladder() -> list[tuple[dict[str, Any], Reason]]:
    fields, steps = dict(_EVERYTHING_WRONG), []
    for repair, expected in _LADDER:
        fields |= repair
        steps.append((dict(fields), expected))
    return steps


@pytest.mark.parametrize(("fields", "expected"), _ladder(),
                         ids=[reason.value for _, reason in _LADDER])
def test_first_failing_check_wins(fields: dict[str, Any], expected: Reason) -> None:
    decision = decide(case(**fields))
    assert decision.reason is expected
    assert decision.allowed is (expected is Reason.OK)


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("consent", list(Consent))
def test_internal_dnc_stops_every_kind_whatever_the_consent(kind: MessageKind,
                                                            consent: Consent) -> None:
    decision = decide(case(message_kind=kind, consent=consent, on_internal_dnc=True))
    assert (decision.reason, decision.rule_id) == (Reason.INTERNAL_DNC, "dnc.internal")


@pytest.mark.parametrize(("kind", "consent", "listed", "expected"), [
    (SALES, WRITTEN, True, Reason.OK),                 # written consent overrides the registry
    (SALES, EXPRESS, True, Reason.NATIONAL_DNC),
    (SALES, NONE, True, Reason.NATIONAL_DNC),
    (SALES, EXPRESS, False, Reason.NO_CONSENT),
    (INFO, EXPRESS, True, Reason.OK),                  # the registry is for telemarketing
    (HEALTH, NONE, True, Reason.OK),
])
def test_national_dnc(kind: MessageKind, consent: Consent, listed: bool,
                      expected: Reason) -> None:
    decision = decide(case(message_kind=kind, consent=consent, on_national_dnc=listed))
    assert decision.reason is expected


@pytest.mark.parametrize(("snapshot", "expected", "rule_id"), [
    (date(2026, 1, 13), Reason.OK, "ok"),                                 # today
    (date(2025, 12, 13), Reason.OK, "ok"),                                # 31 days old
    (date(2025, 12, 12), Reason.NATIONAL_DNC, "dnc.national.snapshot_stale"),  # 32 days
    (None, Reason.NATIONAL_DNC, "dnc.national.snapshot_missing"),
    (date(2026, 1, 14), Reason.NATIONAL_DNC, "dnc.national.snapshot_after_clock"),
])
def test_registry_snapshot_age_stops_telemarketing(snapshot: date | None, expected: Reason,
                                                   rule_id: str) -> None:
    # Written consent does not help: without a fresh snapshot telemarketing stops.
    decision = decide(case(consent=WRITTEN, national_dnc_snapshot_date=snapshot))
    assert (decision.reason, decision.rule_id) == (expected, rule_id)
    if expected is Reason.NATIONAL_DNC:
        assert decision.detail.startswith(SNAPSHOT_STALE_OR_MISSING)


@pytest.mark.parametrize("kind", [INFO, HEALTH])
def test_registry_snapshot_does_not_matter_to_other_kinds(kind: MessageKind) -> None:
    assert decide(case(message_kind=kind, national_dnc_snapshot_date=None)).reason is Reason.OK


@pytest.mark.parametrize(("kind", "consent", "expected"), [
    (SALES, NONE, Reason.NO_CONSENT),
    (SALES, EXPRESS, Reason.NO_CONSENT),
    (SALES, WRITTEN, Reason.OK),
    (INFO, NONE, Reason.NO_CONSENT),
    (INFO, EXPRESS, Reason.OK),
    (INFO, WRITTEN, Reason.OK),
    (HEALTH, NONE, Reason.OK),
    (HEALTH, EXPRESS, Reason.OK),
    (HEALTH, WRITTEN, Reason.OK),
])
def test_consent_by_kind(kind: MessageKind, consent: Consent, expected: Reason) -> None:
    decision = decide(case(message_kind=kind, consent=consent))
    assert decision.reason is expected
    if expected is Reason.NO_CONSENT:
        assert decision.rule_id == f"consent.{kind.value}"


@pytest.mark.parametrize("number", ["+14165550100", "+18005550100", "+442071234567",
                                    "+18095550100", "8505550100"])
@pytest.mark.parametrize("kind", list(MessageKind))
def test_invalid_numbers_for_every_kind(number: str, kind: MessageKind) -> None:
    decision = decide(case(callee_e164=number, message_kind=kind))
    assert decision.reason is Reason.INVALID_NUMBER
    assert decision.zones == () and decision.states == ()


def test_decision_is_pure_and_repeatable() -> None:
    one = case(callee_e164="+18505550100", now_utc="2026-01-13T13:30:00Z")
    assert decide(one) == decide(one)
    assert decide(one).to_dict() == decide(one).to_dict()


def test_allowed_decision_reports_what_it_saw() -> None:
    out = decide(case()).to_dict()
    assert out["allowed"] is True and out["reason"] == "ok" and out["rule_id"] == "ok"
    assert out["zones"] == ["America/New_York"] and out["states"] == ["NY"]
    assert out["local_times"] == {"America/New_York": "2026-01-13T10:00:00-05:00"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"now_utc": datetime(2026, 1, 13, 15, 0)}, "now_utc"),                 # naive
    ({"recent_attempts": (datetime(2026, 1, 13, 15, 0),)}, "recent_attempts"),
    ({"message_kind": "robocall"}, "message_kind"),
    ({"consent": "verbal"}, "consent"),
    ({"campaign": ""}, "campaign"),
    ({"callee_address_state": "ON"}, "callee_address_state"),
])
def test_malformed_cases_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DialCaseError) as caught:
        case(**changes)
    assert caught.value.field == field


def test_case_keeps_timestamps_in_utc() -> None:
    eastern = datetime.fromisoformat("2026-01-13T10:00:00-05:00")
    made = DialCase(callee_e164="+12125550100", now_utc=eastern,
                    message_kind=INFO, campaign="c1",
                    recent_attempts=(eastern - timedelta(hours=1),))
    assert made.now_utc == TUESDAY_1500Z and made.now_utc.tzinfo is UTC
    assert made.recent_attempts[0].tzinfo is UTC
