"""Which numbers may be dialled, and where their callee may be."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from compliance.numbers import (
    OVERLAY_PARENTS,
    CalleeNumber,
    NumberProblem,
    area_code_states,
    area_code_zones,
    check_number,
)
from compliance.us_states import STATE_ZONES, TERRITORIES

EASTERN, CENTRAL, MOUNTAIN, PACIFIC = ("America/New_York", "America/Chicago",
                                       "America/Denver", "America/Los_Angeles")


@pytest.mark.parametrize(("number", "rule_id"), [
    ("+14165550100", "number.not_us"),        # Toronto: NANP, but Canada
    ("+16045550100", "number.not_us"),        # Vancouver
    ("+18095550100", "number.not_us"),        # Dominican Republic, NANP
    ("+18765550100", "number.not_us"),        # Jamaica, NANP
    ("+442071234567", "number.e164"),         # London
    ("+18005550100", "number.line_type"),     # toll-free
    ("+18885550100", "number.line_type"),     # toll-free
    ("+19005550100", "number.line_type"),     # premium rate
    ("+15005550100", "number.line_type"),     # personal (5XX)
    ("18505550100", "number.e164"),           # no plus
    ("+1 850 555 0100", "number.e164"),       # formatted
    ("+1 (850) 555-0100", "number.e164"),
    ("+1850555010", "number.e164"),           # too short
    ("+185055501000", "number.e164"),         # too long
    ("+18505550100 ", "number.e164"),         # trailing space
    ("+11505550100", "number.e164"),          # area code starting with 1
    ("+18501550100", "number.e164"),          # exchange starting with 1
    ("", "number.e164"),
    ("+17295550100", "number.invalid"),       # no such numbers in libphonenumber's data
])
def test_refused_numbers(number: str, rule_id: str) -> None:
    problem = check_number(number)
    assert isinstance(problem, NumberProblem)
    assert problem.rule_id == rule_id


@pytest.mark.parametrize(("number", "region", "states", "zones"), [
    ("+12125550100", "US", ("NY",), (EASTERN,)),
    ("+18505550100", "US", ("FL",), (CENTRAL, EASTERN)),          # panhandle
    ("+14485550100", "US", ("FL",), (CENTRAL, EASTERN)),          # its overlay
    ("+13055550100", "US", ("FL",), (EASTERN,)),                  # Miami
    ("+16055550100", "US", ("SD",), (CENTRAL, MOUNTAIN, "America/North_Dakota/Center")),
    ("+19155550100", "US", ("TX",), (MOUNTAIN,)),                 # El Paso
    ("+17135550100", "US", ("TX",), (CENTRAL,)),                  # Houston
    ("+12085550100", "US", ("ID",), ("America/Boise", MOUNTAIN, PACIFIC)),
    ("+19865550100", "US", ("ID",), ("America/Boise", MOUNTAIN, PACIFIC)),
    ("+15415550100", "US", ("OR",), (MOUNTAIN, PACIFIC)),
    ("+14585550100", "US", ("OR",), (MOUNTAIN, PACIFIC)),         # overlay of 541
    ("+12705550100", "US", ("KY",), (CENTRAL, EASTERN)),
    ("+13645550100", "US", ("KY",), (CENTRAL, EASTERN)),          # overlay of 270
    ("+19285550100", "US", ("AZ",), (MOUNTAIN, "America/Phoenix")),  # Navajo Nation
    ("+16025550100", "US", ("AZ",), ("America/Phoenix",)),
    ("+18085550100", "US", ("HI",), ("Pacific/Honolulu",)),
    ("+12035550100", "US", ("CT",), (EASTERN,)),    # no area-code entry in the geodata
    ("+17875550100", "PR", ("PR",), ("America/Puerto_Rico",)),
    ("+19395550100", "PR", ("PR",), ("America/Puerto_Rico",)),
    ("+13405550100", "VI", ("VI",), ("America/St_Thomas",)),
    ("+16715550100", "GU", ("GU",), ("Pacific/Guam",)),
    ("+16705550100", "MP", ("MP",), ("Pacific/Saipan",)),
    ("+16846331234", "AS", ("AS",), ("Pacific/Pago_Pago",)),
])
def test_dialable_numbers_and_where_they_ring(number: str, region: str,
                                              states: tuple[str, ...],
                                              zones: tuple[str, ...]) -> None:
    assert check_number(number) == CalleeNumber(e164=number, area_code=number[2:5],
                                                region=region, states=states, zones=zones)


def test_zones_cover_the_whole_area_code_not_just_the_number_prefix() -> None:
    # Pensacola's own prefix is Central only; the area code also reaches Eastern time.
    import phonenumbers
    from phonenumbers import timezone

    own = timezone.time_zones_for_number(phonenumbers.parse("+18504320100"))
    assert set(own) < set(area_code_zones("850"))


@pytest.mark.parametrize(("overlay", "parent"), sorted(OVERLAY_PARENTS.items()))
def test_overlays_share_their_parents_state_and_zones(overlay: str, parent: str) -> None:
    assert area_code_states(overlay) == area_code_states(parent)
    assert set(area_code_zones(parent)) <= set(area_code_zones(overlay))
    assert len(area_code_zones(parent)) > 1, "only multi-zone parents need the table"


def _offsets(zone: str) -> tuple[object, ...]:
    return tuple(datetime(2026, month, 15, 12, tzinfo=ZoneInfo(zone)).utcoffset()
                 for month in (1, 7))


def test_state_zone_table_matches_libphonenumbers_clocks() -> None:
    """Every clock libphonenumber gives a state's area codes is in the state table."""
    from compliance.numbers import _state_index, _zone_index

    for code, states in _state_index().items():
        for state in states:
            clocks = {_offsets(zone) for zone in STATE_ZONES[state]}
            for zone in _zone_index().get(code, ()):
                if (code, zone) == ("907", "Pacific/Honolulu"):
                    continue  # libphonenumber's quirk: no part of Alaska keeps Hawaii time
                assert _offsets(zone) in clocks, (code, state, zone)


@pytest.mark.parametrize("state", sorted(STATE_ZONES))
def test_every_state_zone_loads(state: str) -> None:
    for zone in STATE_ZONES[state]:
        ZoneInfo(zone)


def test_every_state_dc_and_territory_is_known() -> None:
    assert len(STATE_ZONES) == 50 + 1 + len(TERRITORIES)


def test_every_geographic_us_area_code_has_a_state_and_zones() -> None:
    import phonenumbers

    located = 0
    for code in range(200, 1000):
        number = f"+1{code}2340100"
        parsed = phonenumbers.parse(number)
        if (phonenumbers.is_valid_number(parsed)
                and phonenumbers.region_code_for_number(parsed) == "US"
                and phonenumbers.number_type(parsed)
                == phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            checked = check_number(number)
            assert isinstance(checked, CalleeNumber), (number, checked)
            assert checked.states and checked.zones
            located += 1
    assert located > 300
