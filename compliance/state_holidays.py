"""State legal holidays on which telemarketing is forbidden (Alabama, Louisiana).

Alabama's and Louisiana's telephone solicitation rules forbid sales calls on
the legal holidays of state law (house policy, issue 9). The table is the
maintained ``holidays`` package (``holidays.country_holidays("US", subdiv=...)``, public
category), which carries each state's own holidays (Confederate Memorial Day,
Jefferson Davis' Birthday, Mardi Gras, Good Friday, Election Day, ...) as
well as the federal ones and their observed days.

House policy adds Mardi Gras for Alabama: state law makes it a holiday in
Baldwin and Mobile counties only, and the engine cannot tell a callee's
county, so it keeps the stricter reading.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

import holidays

#: States whose legal holidays close telemarketing.
HOLIDAY_STATES: frozenset[str] = frozenset({"AL", "LA"})


def state_holiday(state: str, day: date) -> str | None:
    """The name of ``state``'s legal holiday on ``day``, or None.

    None for every state outside ``HOLIDAY_STATES``: only those close on holidays.
    """
    if state not in HOLIDAY_STATES:
        return None
    return _calendar(state, day.year).get(day)


@functools.cache
def _calendar(state: str, year: int) -> Mapping[date, str]:
    table: dict[date, str] = dict(holidays.country_holidays("US", subdiv=state, years=year).items())
    if state == "AL":
        # Mardi Gras falls on the same day everywhere; Louisiana's table has it.
        louisiana = holidays.country_holidays("US", subdiv="LA", years=year)
        for day in louisiana.get_named("Mardi Gras", lookup="exact"):
            table.setdefault(day, "Mardi Gras (Baldwin and Mobile counties)")
    return MappingProxyType(table)
