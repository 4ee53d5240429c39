"""When a call may ring: the house window and the states' telemarketing windows.

Every kind of call rings only from 08:00:00 (inclusive) to 21:00:00
(exclusive) on the callee's local clock. Telemarketing also keeps the windows
and days of the states in play (house policy, issue 9):

- FL, OK, MD, WA, AL, LA, MS: 08:00 to 20:00;
- TX: Monday to Saturday 09:00 to 21:00, Sunday 12:00 to 21:00;
- AL, LA, MS: never on Sunday; AL, LA: never on a state holiday.

A verdict is taken in one zone at a time, on that zone's wall clock and
local date (``zoneinfo`` handles the daylight-saving switch days). Every
state rule in play applies in every candidate zone: the engine cannot tell
in which of them the callee is, nor which state's law reaches the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

from compliance.dial_case import MessageKind, Reason, ZoneVerdict
from compliance.state_holidays import state_holiday


@dataclass(frozen=True)
class Window:
    """A daily span of wall-clock time: ``start`` inclusive, ``end`` exclusive."""

    start: time
    end: time

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, time) and self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


#: Every call, every kind, every day.
HOUSE_WINDOW = Window(time(8), time(21))

_EIGHT_TO_EIGHT = Window(time(8), time(20))
_EVERY_DAY = (_EIGHT_TO_EIGHT,) * 7
_NOT_SUNDAY = (_EIGHT_TO_EIGHT,) * 6 + (None,)

#: State -> telemarketing window per weekday (Monday first); None: no calls that day.
TELEMARKETING_WINDOWS: Mapping[str, tuple[Window | None, ...]] = MappingProxyType({
    "FL": _EVERY_DAY,
    "OK": _EVERY_DAY,
    "MD": _EVERY_DAY,
    "WA": _EVERY_DAY,
    "AL": _NOT_SUNDAY,
    "LA": _NOT_SUNDAY,
    "MS": _NOT_SUNDAY,
    "TX": (Window(time(9), time(21)),) * 6 + (Window(time(12), time(21)),),
})

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def judge_zone(now_utc: datetime, zone: str, states: Iterable[str],
               kind: MessageKind) -> ZoneVerdict:
    """May a call of ``kind`` ring now in ``zone``, under the rules of ``states``?

    Days are checked before hours, so a Sunday in Alabama is ``HOLIDAY_OR_SUNDAY``
    at any hour.
    """
    local = now_utc.astimezone(ZoneInfo(zone))
    clock, weekday = local.time(), local.weekday()
    in_play = sorted(states) if kind is MessageKind.TELEMARKETING else []

    def verdict(reason: Reason, rule_id: str, detail: str) -> ZoneVerdict:
        return ZoneVerdict(zone=zone, local_time=local, reason=reason, rule_id=rule_id,
                           detail=f"{detail} ({zone}, {local:%a %Y-%m-%d %H:%M:%S})")

    for state in in_play:
        days = TELEMARKETING_WINDOWS.get(state)
        if days is not None and days[weekday] is None:
            day = _WEEKDAYS[weekday]
            return verdict(Reason.HOLIDAY_OR_SUNDAY, f"state.{state}.no_{day.lower()}",
                           f"no telemarketing on {day} in {state}")
    for state in in_play:
        holiday = state_holiday(state, local.date())
        if holiday is not None:
            return verdict(Reason.HOLIDAY_OR_SUNDAY, f"state.{state}.holiday",
                           f"no telemarketing on a {state} holiday: {holiday}")
    if clock not in HOUSE_WINDOW:
        return verdict(Reason.CALLING_HOURS, "house.calling_hours",
                       f"outside the calling hours {HOUSE_WINDOW}")
    for state in in_play:
        days = TELEMARKETING_WINDOWS.get(state)
        window = days[weekday] if days is not None else None
        if window is not None and clock not in window:
            return verdict(Reason.CALLING_HOURS, f"state.{state}.telemarketing_hours",
                           f"outside {state}'s telemarketing hours {window} on "
                           f"{_WEEKDAYS[weekday]}")
    return verdict(Reason.OK, "ok", "within the calling hours")
