"""Which callee numbers the engine may dial, and where their callee may be.

House policy: only strict E.164 numbers of the US jurisdiction (``+1`` and a
valid number of the US, PR, VI, GU, MP or AS) on a line a person answers.
The engine implements US rules only, so every other country, Canada and the
Caribbean NANP countries included, is refused.

Line types. libphonenumber's types are an allow-list here: fixed line,
mobile, fixed-line-or-mobile (what most US numbers are, the two being
indistinguishable in the NANP) and VoIP (a home or mobile line carried over
IP is still a person's phone, and the TCPA treats it as such). Toll-free,
premium-rate, shared-cost, personal (5XX), UAN, pager, voicemail-only and
unknown types are refused.

Where the callee may be. The candidate zones of a number are every zone that
libphonenumber's time-zone data assigns to any prefix within its area code
(not just the number's own prefix: numbers are ported and exchanges
re-homed). An overlay code inherits the zones of the code it overlays,
because libphonenumber's data for a young overlay is coarse (458 knows only
Pacific time, 541 also Mountain). Its states are the jurisdictions
libphonenumber's geocoding data names for the area code (its parent's for an
overlay), or the territory itself.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import phonenumbers
from phonenumbers import PhoneNumberType

from compliance.us_states import STATE_ZONES, TERRITORIES, state_for_name

#: Region codes (as libphonenumber names them) whose numbers the engine dials.
US_JURISDICTIONS: frozenset[str] = frozenset({"US"}) | TERRITORIES

#: Line types a person answers; everything else is refused.
CALLEE_LINE_TYPES: frozenset[int] = frozenset({
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
})

#: Overlay area code -> the code it overlays, for US overlays whose parent
#: spans more than one zone: there the overlay's own data is too coarse.
#: Source: NANPA area code relief planning notices (nationalnanpa.com).
#: Extend when NANPA puts an overlay on a multi-zone code in service.
OVERLAY_PARENTS: Mapping[str, str] = MappingProxyType({
    "986": "208",  # Idaho, in service 2017
    "364": "270",  # western Kentucky, 2014
    "729": "423",  # eastern Tennessee, 2023
    "458": "541",  # Oregon outside Portland, 2010
    "930": "812",  # southern Indiana, 2015
    "448": "850",  # Florida panhandle, 2021
})

_E164 = re.compile(r"\+1[2-9]\d{2}[2-9]\d{6}")


@dataclass(frozen=True)
class CalleeNumber:
    """A dialable US-jurisdiction number and where its callee may be."""

    e164: str
    area_code: str
    region: str
    #: Postal codes of the jurisdictions the number belongs to, sorted.
    states: tuple[str, ...]
    #: Every IANA zone the callee may be in, sorted.
    zones: tuple[str, ...]


@dataclass(frozen=True)
class NumberProblem:
    """Why a number may not be dialled: a rule id and a sentence."""

    rule_id: str
    detail: str


def check_number(e164: str) -> CalleeNumber | NumberProblem:
    """Validate ``e164`` under house policy and locate its callee.

    Never raises for a bad number: every refusal is a ``NumberProblem``.
    """
    if not _E164.fullmatch(e164):
        return NumberProblem("number.e164", "not a strict E.164 NANP number (+1NXXNXXXXXX)")
    parsed = phonenumbers.parse(e164)
    if not phonenumbers.is_valid_number(parsed):
        return NumberProblem("number.invalid", "not a valid number in libphonenumber's data")
    region = phonenumbers.region_code_for_number(parsed)
    if region not in US_JURISDICTIONS:
        return NumberProblem("number.not_us",
                             f"a number of {region}; the engine implements US rules only")
    line_type = phonenumbers.number_type(parsed)
    if line_type not in CALLEE_LINE_TYPES:
        return NumberProblem("number.line_type",
                             f"line type {_type_name(line_type)} is not a callee's line")
    area_code = e164[2:5]
    states = area_code_states(area_code) if region == "US" else (region,)
    if not states:
        return NumberProblem("number.no_location", f"no state known for area code {area_code}")
    zones = set(area_code_zones(area_code))
    if not zones:
        zones = {zone for state in states for zone in STATE_ZONES[state]}
    return CalleeNumber(e164=e164, area_code=area_code, region=region, states=states,
                        zones=tuple(sorted(zones)))


def parse_callee(text: str) -> CalleeNumber | NumberProblem:
    """A number as people write it with its country code (``+1 (202) 555-0123``)
    made strict E.164 by libphonenumber, then checked by `check_number`.

    Never guesses: a number without ``+`` and country code is refused, since
    the engine cannot tell which country was meant. Never raises.
    """
    cleaned = text.strip()
    if not cleaned.startswith("+"):
        return NumberProblem("number.no_country_code",
                             "needs + and the country code, e.g. +1 202 555 0123")
    try:
        parsed = phonenumbers.parse(cleaned, None)
    except phonenumbers.NumberParseException as exc:
        return NumberProblem("number.unparsable", f"not a phone number: {exc}")
    return check_number(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def area_code_zones(area_code: str) -> tuple[str, ...]:
    """Every zone libphonenumber assigns within ``area_code`` (and its overlay parent)."""
    index = _zone_index()
    parent = OVERLAY_PARENTS.get(area_code)
    zones = index.get(area_code, frozenset()) | index.get(parent or area_code, frozenset())
    return tuple(sorted(zones))


def area_code_states(area_code: str) -> tuple[str, ...]:
    """The states libphonenumber's geocoding names for a US ``area_code`` (or its parent)."""
    index = _state_index()
    parent = OVERLAY_PARENTS.get(area_code)
    states = index.get(area_code, frozenset()) | index.get(parent or area_code, frozenset())
    return tuple(sorted(states))


@functools.cache
def _zone_index() -> Mapping[str, frozenset[str]]:
    # Keys are digit prefixes ("1541", "1541372"); the bare "1" holds every
    # NANP zone and says nothing about an area code, so it is left out.
    from phonenumbers.tzdata import TIMEZONE_DATA

    index: dict[str, set[str]] = defaultdict(set)
    for prefix, zones in TIMEZONE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4:
            index[prefix[1:4]].update(z for z in zones if z != "Etc/Unknown")
    return {code: frozenset(zones) for code, zones in index.items()}


@functools.cache
def _state_index() -> Mapping[str, frozenset[str]]:
    # The area code's own entry names its state ("Oregon") or its main town
    # ("New York, NY"); finer prefixes name towns ("Medford, OR") and are used
    # only where an area code has no entry of its own.
    from phonenumbers.geodata import GEOCODE_DATA

    own: dict[str, str] = {}
    towns: dict[str, set[str]] = defaultdict(set)
    for prefix, names in GEOCODE_DATA.items():
        if not prefix.startswith("1") or len(prefix) < 4 or "en" not in names:
            continue
        state = _state_named(names["en"])
        if state is None:
            continue
        if len(prefix) == 4:
            own[prefix[1:]] = state
        else:
            towns[prefix[1:4]].add(state)
    codes = set(own) | set(towns)
    return {code: frozenset({own[code]} if code in own else towns[code]) for code in codes}


def _state_named(name: str) -> str | None:
    town = re.fullmatch(r".+, ([A-Z]{2})", name)
    if town is not None:
        return town[1] if town[1] in STATE_ZONES else None
    return state_for_name(name)


def _type_name(line_type: int) -> str:
    for name, value in vars(PhoneNumberType).items():
        if value == line_type and name.isupper():
            return name
    return str(line_type)
