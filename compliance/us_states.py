"""The US jurisdictions the dialing rules know: postal codes, names, time zones.

Covers the 50 states, DC and the five inhabited territories (PR, VI, GU, MP,
AS), the places a US-jurisdiction number may ring. ``STATE_ZONES`` lists, for
each, every IANA zone in which some part of it keeps its legal time (a state
split between two zones lists both; Arizona lists Denver for the Navajo
Nation, which keeps daylight time). Zones with the same offsets and rules as
one listed (``America/Indiana/*``, ``America/Kentucky/*``, the Alaska
panhandle zones) are represented by that one: the dialing rules only need
every distinct local clock a callee there may read.

Sources: the IANA tz database (``zone1970.tab``) and 49 CFR part 71 (the US
standard time zone boundaries). Maintained by hand; a test checks every zone
loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_EASTERN = "America/New_York"
_CENTRAL = "America/Chicago"
_MOUNTAIN = "America/Denver"
_PACIFIC = "America/Los_Angeles"

#: Postal code -> the IANA zones of that jurisdiction.
STATE_ZONES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "AL": (_CENTRAL,),
    "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix", _MOUNTAIN),
    "AR": (_CENTRAL,),
    "CA": (_PACIFIC,),
    "CO": (_MOUNTAIN,),
    "CT": (_EASTERN,),
    "DE": (_EASTERN,),
    "DC": (_EASTERN,),
    "FL": (_EASTERN, _CENTRAL),
    "GA": (_EASTERN,),
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", _PACIFIC),
    "IL": (_CENTRAL,),
    "IN": (_EASTERN, _CENTRAL),
    "IA": (_CENTRAL,),
    "KS": (_CENTRAL, _MOUNTAIN),
    "KY": (_EASTERN, _CENTRAL),
    "LA": (_CENTRAL,),
    "ME": (_EASTERN,),
    "MD": (_EASTERN,),
    "MA": (_EASTERN,),
    "MI": (_EASTERN, _CENTRAL),
    "MN": (_CENTRAL,),
    "MS": (_CENTRAL,),
    "MO": (_CENTRAL,),
    "MT": (_MOUNTAIN,),
    "NE": (_CENTRAL, _MOUNTAIN),
    "NV": (_PACIFIC, _MOUNTAIN),
    "NH": (_EASTERN,),
    "NJ": (_EASTERN,),
    "NM": (_MOUNTAIN,),
    "NY": (_EASTERN,),
    "NC": (_EASTERN,),
    "ND": (_CENTRAL, _MOUNTAIN),
    "OH": (_EASTERN,),
    "OK": (_CENTRAL,),
    "OR": (_PACIFIC, "America/Boise"),
    "PA": (_EASTERN,),
    "RI": (_EASTERN,),
    "SC": (_EASTERN,),
    "SD": (_CENTRAL, _MOUNTAIN),
    "TN": (_EASTERN, _CENTRAL),
    "TX": (_CENTRAL, _MOUNTAIN),
    "UT": (_MOUNTAIN,),
    "VT": (_EASTERN,),
    "VA": (_EASTERN,),
    "WA": (_PACIFIC,),
    "WV": (_EASTERN,),
    "WI": (_CENTRAL,),
    "WY": (_MOUNTAIN,),
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",),
    "AS": ("Pacific/Pago_Pago",),
})

#: Territories, keyed by the region code libphonenumber gives their numbers,
#: which is also their postal code.
TERRITORIES: frozenset[str] = frozenset({"PR", "VI", "GU", "MP", "AS"})

_NAMES: Mapping[str, str] = MappingProxyType({
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ",
    "New Mexico": "NM", "New York": "NY", "North Carolina": "NC", "North Dakota": "ND",
    "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Puerto Rico": "PR",
    "U.S. Virgin Islands": "VI", "Guam": "GU", "Northern Mariana Islands": "MP",
    "American Samoa": "AS",
    # Spellings of libphonenumber's geocoding data.
    "Washington State": "WA", "Washington D.C.": "DC",
})


def state_for_name(name: str) -> str | None:
    """The postal code for a state's English name (as libphonenumber spells it), or None."""
    return _NAMES.get(name)


def is_us_state(code: str) -> bool:
    """Whether ``code`` is the postal code of a state, DC or a territory (upper case)."""
    return code in STATE_ZONES
