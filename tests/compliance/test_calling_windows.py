"""Calling hours, state windows, Sundays and holidays, on the callee's clock.

Instants are written in UTC on purpose: each comment gives the callee's
local time, so a wrong offset (a missed DST switch, UTC dates) fails.
"""

from __future__ import annotations

import pytest

from compliance.dial_case import Consent, MessageKind, Reason
from compliance.dialing_rules import decide
from tests.compliance.dial_cases import case

HEALTH, INFO, SALES = (MessageKind.HEALTHCARE_REMINDER, MessageKind.INFORMATIONAL,
                       MessageKind.TELEMARKETING)
OK, HOURS, DAY, MIXED = (Reason.OK, Reason.CALLING_HOURS, Reason.HOLIDAY_OR_SUNDAY,
                         Reason.MULTI_TIMEZONE_UNSAFE)

NEW_YORK, MIAMI, PANHANDLE = "+12125550100", "+13055550100", "+18505550100"
BIRMINGHAM_AL, NEW_ORLEANS_LA, JACKSON_MS = "+12055550100", "+15045550100", "+16015550100"
HOUSTON_TX, EL_PASO_TX, OKLAHOMA_CITY = "+17135550100", "+19155550100", "+14055550100"
BALTIMORE_MD, SEATTLE_WA, PHOENIX_AZ, FLAGSTAFF_AZ = ("+14105550100", "+12065550100",
                                                      "+16025550100", "+19285550100")
HONOLULU, SAN_JUAN, GUAM, PAGO_PAGO = ("+18085550100", "+17875550100", "+16715550100",
                                       "+16846331234")


def _reason(number: str, now: str, kind: MessageKind = SALES, **changes: object) -> Reason:
    return decide(case(callee_e164=number, now_utc=now, message_kind=kind,
                       **changes)).reason


@pytest.mark.parametrize("kind", [HEALTH, INFO, SALES])
@pytest.mark.parametrize(("now", "expected"), [
    ("2026-01-13T12:59:59Z", HOURS),  # 07:59:59 EST
    ("2026-01-13T13:00:00Z", OK),     # 08:00:00
    ("2026-01-14T01:59:59Z", OK),     # 20:59:59
    ("2026-01-14T02:00:00Z", HOURS),  # 21:00:00
    ("2026-01-13T07:00:00Z", HOURS),  # 02:00 at night
])
def test_house_hours_for_every_kind(kind: MessageKind, now: str, expected: Reason) -> None:
    assert _reason(NEW_YORK, now, kind) is expected


@pytest.mark.parametrize(("now", "expected"), [
    # 2026-03-08: clocks spring forward at 02:00 EST; 08:00 EDT is 12:00Z.
    ("2026-03-08T11:59:59Z", HOURS),  # 07:59:59 EDT
    ("2026-03-08T12:00:00Z", OK),     # 08:00:00 EDT (07:00 if EST were kept)
    ("2026-03-09T00:59:59Z", OK),     # 20:59:59 EDT
    ("2026-03-09T01:00:00Z", HOURS),  # 21:00:00 EDT (20:00 if EST were kept)
    # 2026-11-01: clocks fall back at 02:00 EDT; 08:00 EST is 13:00Z.
    ("2026-11-01T12:59:59Z", HOURS),  # 07:59:59 EST (08:59:59 if EDT were kept)
    ("2026-11-01T13:00:00Z", OK),     # 08:00:00 EST
    ("2026-11-02T01:59:59Z", OK),     # 20:59:59 EST (21:59:59 if EDT were kept)
    ("2026-11-02T02:00:00Z", HOURS),  # 21:00:00 EST
])
def test_dst_switch_days_in_new_york(now: str, expected: Reason) -> None:
    assert _reason(NEW_YORK, now, INFO) is expected


@pytest.mark.parametrize(("number", "now", "expected"), [
    # Arizona keeps MST (UTC-7) all year, DST days included.
    (PHOENIX_AZ, "2026-07-14T14:59:59Z", HOURS),
    (PHOENIX_AZ, "2026-07-14T15:00:00Z", OK),
    (PHOENIX_AZ, "2026-07-15T03:59:59Z", OK),
    (PHOENIX_AZ, "2026-07-15T04:00:00Z", HOURS),
    (PHOENIX_AZ, "2026-03-08T14:59:59Z", HOURS),
    (PHOENIX_AZ, "2026-03-08T15:00:00Z", OK),
    # 928 also reaches the Navajo Nation, on Mountain time with DST.
    (FLAGSTAFF_AZ, "2026-07-14T14:30:00Z", MIXED),  # 08:30 MDT, 07:30 MST
    (FLAGSTAFF_AZ, "2026-07-14T15:00:00Z", OK),
    (FLAGSTAFF_AZ, "2026-01-13T14:59:59Z", HOURS),  # both 07:59:59 in winter
    (FLAGSTAFF_AZ, "2026-01-13T15:00:00Z", OK),
    # Hawaii: HST (UTC-10), no DST.
    (HONOLULU, "2026-01-13T17:59:59Z", HOURS),
    (HONOLULU, "2026-01-13T18:00:00Z", OK),
    (HONOLULU, "2026-07-15T06:59:59Z", OK),
    (HONOLULU, "2026-07-15T07:00:00Z", HOURS),
    # Territories: Puerto Rico UTC-4, Guam UTC+10 (a day ahead), American Samoa UTC-11.
    (SAN_JUAN, "2026-01-13T11:59:59Z", HOURS),
    (SAN_JUAN, "2026-07-14T12:00:00Z", OK),
    (GUAM, "2026-01-12T21:59:59Z", HOURS),
    (GUAM, "2026-01-12T22:00:00Z", OK),
    (PAGO_PAGO, "2026-01-13T18:59:59Z", HOURS),
    (PAGO_PAGO, "2026-01-13T19:00:00Z", OK),
])
def test_zones_without_dst_and_far_away(number: str, now: str, expected: Reason) -> None:
    assert _reason(number, now, INFO) is expected


@pytest.mark.parametrize(("number", "now", "expected"), [
    # 850: Eastern and Central.
    (PANHANDLE, "2026-01-13T12:59:59Z", HOURS),  # 07:59:59 E, 06:59:59 C
    (PANHANDLE, "2026-01-13T13:00:00Z", MIXED),  # 08:00 E, 07:00 C
    (PANHANDLE, "2026-01-13T13:59:59Z", MIXED),
    (PANHANDLE, "2026-01-13T14:00:00Z", OK),     # 09:00 E, 08:00 C
    (PANHANDLE, "2026-01-14T01:59:59Z", OK),     # 20:59:59 E
    (PANHANDLE, "2026-01-14T02:00:00Z", MIXED),  # 21:00 E, 20:00 C
    (PANHANDLE, "2026-01-14T02:59:59Z", MIXED),
    (PANHANDLE, "2026-01-14T03:00:00Z", HOURS),  # 22:00 E, 21:00 C
    # 605: Central and Mountain.
    ("+16055550100", "2026-01-13T14:00:00Z", MIXED),
    ("+16055550100", "2026-01-13T15:00:00Z", OK),
    # 541 and its overlay 458: Pacific and Mountain.
    ("+15415550100", "2026-01-13T15:00:00Z", MIXED),
    ("+14585550100", "2026-01-13T15:00:00Z", MIXED),
    ("+14585550100", "2026-01-13T16:00:00Z", OK),
    # 208: Mountain and Pacific.
    ("+12085550100", "2026-01-14T03:30:00Z", OK),     # 20:30 M, 19:30 P
    ("+12085550100", "2026-01-14T04:30:00Z", MIXED),  # 21:30 M, 20:30 P
    ("+12085550100", "2026-01-14T05:30:00Z", HOURS),  # 22:30 M, 21:30 P
    # 270 and its overlay 364: Central and Eastern.
    ("+12705550100", "2026-01-13T13:30:00Z", MIXED),
    ("+13645550100", "2026-01-13T13:30:00Z", MIXED),
    # 915 El Paso: Mountain only.
    (EL_PASO_TX, "2026-01-13T14:59:59Z", HOURS),
    (EL_PASO_TX, "2026-01-13T15:00:00Z", OK),
])
def test_multi_zone_area_codes(number: str, now: str, expected: Reason) -> None:
    assert _reason(number, now, HEALTH) is expected


def test_mixed_verdict_lists_every_zone() -> None:
    decision = decide(case(callee_e164=PANHANDLE, now_utc="2026-01-13T13:30:00Z"))
    assert decision.reason is MIXED
    assert decision.zones == ("America/Chicago", "America/New_York")
    assert {v.zone: v.reason for v in decision.zone_verdicts} == {
        "America/Chicago": HOURS, "America/New_York": OK}
    assert decision.zone_verdicts[0].local_time.isoformat() == "2026-01-13T07:30:00-06:00"


@pytest.mark.parametrize(("number", "last_minute", "closing"), [
    (MIAMI, "2026-01-14T00:59:59Z", "2026-01-14T01:00:00Z"),           # FL, Eastern
    (BALTIMORE_MD, "2026-01-14T00:59:59Z", "2026-01-14T01:00:00Z"),    # MD
    (OKLAHOMA_CITY, "2026-01-14T01:59:59Z", "2026-01-14T02:00:00Z"),   # OK, Central
    (BIRMINGHAM_AL, "2026-01-14T01:59:59Z", "2026-01-14T02:00:00Z"),   # AL
    (NEW_ORLEANS_LA, "2026-01-14T01:59:59Z", "2026-01-14T02:00:00Z"),  # LA
    (JACKSON_MS, "2026-01-14T01:59:59Z", "2026-01-14T02:00:00Z"),      # MS
    (SEATTLE_WA, "2026-01-14T03:59:59Z", "2026-01-14T04:00:00Z"),      # WA, Pacific
])
def test_eight_pm_states_close_telemarketing_only(number: str, last_minute: str,
                                                  closing: str) -> None:
    assert _reason(number, last_minute) is OK                      # 19:59:59 local
    closed = decide(case(callee_e164=number, now_utc=closing))     # 20:00:00 local
    assert closed.reason is HOURS
    assert closed.rule_id.endswith(".telemarketing_hours")
    assert _reason(number, closing, INFO) is OK
    assert _reason(number, closing, HEALTH) is OK


@pytest.mark.parametrize(("now", "expected", "rule_id"), [
    ("2026-01-13T14:59:59Z", HOURS, "state.TX.telemarketing_hours"),  # Tue 08:59:59 CST
    ("2026-01-13T15:00:00Z", OK, "ok"),                               # Tue 09:00
    ("2026-01-14T02:59:59Z", OK, "ok"),                               # Tue 20:59:59
    ("2026-01-14T03:00:00Z", HOURS, "house.calling_hours"),           # Tue 21:00
    ("2026-01-17T14:59:59Z", HOURS, "state.TX.telemarketing_hours"),  # Sat 08:59:59
    ("2026-01-17T15:00:00Z", OK, "ok"),                               # Sat 09:00
    ("2026-01-18T17:59:59Z", HOURS, "state.TX.telemarketing_hours"),  # Sun 11:59:59
    ("2026-01-18T18:00:00Z", OK, "ok"),                               # Sun 12:00
    ("2026-01-19T02:59:59Z", OK, "ok"),                               # Sun 20:59:59
    ("2026-01-19T03:00:00Z", HOURS, "house.calling_hours"),           # Sun 21:00
])
def test_texas_days_and_hours(now: str, expected: Reason, rule_id: str) -> None:
    decision = decide(case(callee_e164=HOUSTON_TX, now_utc=now))
    assert (decision.reason, decision.rule_id) == (expected, rule_id)


def test_texas_sunday_noon_is_for_telemarketing_only() -> None:
    assert _reason(HOUSTON_TX, "2026-01-18T14:00:00Z", INFO) is OK    # Sun 08:00
    assert _reason(HOUSTON_TX, "2026-01-18T14:00:00Z") is HOURS
    assert _reason(EL_PASO_TX, "2026-01-18T18:59:59Z") is HOURS       # Sun 11:59:59 MST
    assert _reason(EL_PASO_TX, "2026-01-18T19:00:00Z") is OK


@pytest.mark.parametrize(("number", "now", "kind", "expected", "rule_id"), [
    (BIRMINGHAM_AL, "2026-01-18T18:00:00Z", SALES, DAY, "state.AL.no_sunday"),  # Sun noon
    (NEW_ORLEANS_LA, "2026-01-18T18:00:00Z", SALES, DAY, "state.LA.no_sunday"),
    (JACKSON_MS, "2026-01-18T18:00:00Z", SALES, DAY, "state.MS.no_sunday"),
    (BIRMINGHAM_AL, "2026-01-18T18:00:00Z", INFO, OK, "ok"),
    (BIRMINGHAM_AL, "2026-01-18T18:00:00Z", HEALTH, OK, "ok"),
    (BIRMINGHAM_AL, "2026-01-17T18:00:00Z", SALES, OK, "ok"),                   # Saturday
    (BIRMINGHAM_AL, "2026-01-20T18:00:00Z", SALES, OK, "ok"),                   # Tuesday
    # The callee's date, never UTC's: Monday in UTC, Sunday 19:30 in Alabama...
    (BIRMINGHAM_AL, "2026-01-19T01:30:00Z", SALES, DAY, "state.AL.no_sunday"),
    # ...and Sunday in UTC, Saturday 23:30 in Alabama: only the hours close it.
    (BIRMINGHAM_AL, "2026-01-18T05:30:00Z", SALES, HOURS, "house.calling_hours"),
    # A Sunday that is also DST day: still Sunday, at 08:00 CDT.
    (BIRMINGHAM_AL, "2026-03-08T13:00:00Z", SALES, DAY, "state.AL.no_sunday"),
    (FLAGSTAFF_AZ, "2026-01-18T18:00:00Z", SALES, OK, "ok"),  # no Sunday rule in AZ
])
def test_sundays(number: str, now: str, kind: MessageKind, expected: Reason,
                 rule_id: str) -> None:
    decision = decide(case(callee_e164=number, now_utc=now, message_kind=kind))
    assert (decision.reason, decision.rule_id) == (expected, rule_id)


@pytest.mark.parametrize(("number", "now", "kind", "expected"), [
    (BIRMINGHAM_AL, "2026-04-27T17:00:00Z", SALES, DAY),   # Confederate Memorial Day, noon
    (BIRMINGHAM_AL, "2026-04-28T00:30:00Z", SALES, DAY),   # Apr 27 19:30 CDT, Apr 28 UTC
    (BIRMINGHAM_AL, "2026-04-28T17:00:00Z", SALES, OK),    # the day after
    (BIRMINGHAM_AL, "2026-04-27T17:00:00Z", INFO, OK),     # informational calls may ring
    (BIRMINGHAM_AL, "2026-06-01T17:00:00Z", SALES, DAY),   # Jefferson Davis' Birthday
    (BIRMINGHAM_AL, "2026-01-19T18:00:00Z", SALES, DAY),   # MLK & Robert E. Lee's Birthday
    (BIRMINGHAM_AL, "2026-12-25T18:00:00Z", SALES, DAY),   # Christmas Day
    (BIRMINGHAM_AL, "2026-02-17T18:00:00Z", SALES, DAY),   # Mardi Gras (house policy)
    (NEW_ORLEANS_LA, "2026-02-17T18:00:00Z", SALES, DAY),  # Mardi Gras
    (NEW_ORLEANS_LA, "2026-04-03T17:00:00Z", SALES, DAY),  # Good Friday
    (NEW_ORLEANS_LA, "2026-04-27T17:00:00Z", SALES, OK),   # not a Louisiana holiday
    (JACKSON_MS, "2026-04-27T17:00:00Z", SALES, OK),       # MS closes Sundays, not holidays
    (MIAMI, "2026-12-25T17:00:00Z", SALES, OK),            # FL has no holiday rule
])
def test_state_holidays(number: str, now: str, kind: MessageKind, expected: Reason) -> None:
    assert _reason(number, now, kind) is expected


def test_holiday_rule_names_the_holiday() -> None:
    decision = decide(case(callee_e164=BIRMINGHAM_AL, now_utc="2026-04-27T17:00:00Z"))
    assert decision.rule_id == "state.AL.holiday"
    assert "Confederate Memorial Day" in decision.detail


@pytest.mark.parametrize(("number", "address", "now", "kind", "expected"), [
    # An Alabama address brings Alabama's Sunday rule to a New York number.
    (NEW_YORK, "AL", "2026-01-18T18:00:00Z", SALES, DAY),
    (NEW_YORK, "AL", "2026-01-18T18:00:00Z", INFO, OK),
    # ... and Central time: 13:30Z is 08:30 in New York but 07:30 in Alabama.
    (NEW_YORK, "AL", "2026-01-13T13:30:00Z", INFO, MIXED),
    # A California address adds Pacific time: 09:00 E is 06:00 P.
    (NEW_YORK, "CA", "2026-01-13T14:00:00Z", HEALTH, MIXED),
    # The number's own state adds nothing: Miami is Eastern only.
    (MIAMI, "FL", "2026-01-13T13:30:00Z", INFO, OK),
    # Monday 00:30 in New York (hours), Sunday 23:30 in Alabama (Sunday): none allows.
    (NEW_YORK, "AL", "2026-01-19T05:30:00Z", SALES, DAY),
    # Monday 10:00 in Guam, Sunday 18:00 in Alabama: one allows, one does not.
    (GUAM, "AL", "2026-01-26T00:00:00Z", SALES, MIXED),
    # A Texas address brings Central and Mountain time, and its 09:00 start:
    # 10:30 E, 09:30 C, 08:30 M.
    (MIAMI, "TX", "2026-01-13T15:30:00Z", SALES, MIXED),
    (MIAMI, "TX", "2026-01-13T15:30:00Z", INFO, OK),
    (MIAMI, "TX", "2026-01-13T16:00:00Z", SALES, OK),
])
def test_address_state_adds_zones_and_rules(number: str, address: str, now: str,
                                            kind: MessageKind, expected: Reason) -> None:
    assert _reason(number, now, kind, callee_address_state=address,
                   consent=Consent.EXPRESS_WRITTEN) is expected


def test_address_state_zones_are_reported() -> None:
    decision = decide(case(callee_address_state="CA", now_utc="2026-01-13T14:00:00Z"))
    assert decision.states == ("CA", "NY")
    assert decision.zones == ("America/Los_Angeles", "America/New_York")
