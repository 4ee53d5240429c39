"""When a refused dial may be tried again: the rules' time-bound refusals.

Some refusals only say "not now": ``calling_hours``, ``multi_timezone_unsafe``,
``holiday_or_sunday`` and ``frequency_cap``. The scheduler then defers the
attempt (without using it up) to the first moment the same case is allowed,
asking the rules themselves (``compliance.dialing_rules.decide``) rather
than re-deriving their windows here.

Candidate moments: every whole UTC hour ahead (every US zone, territories
included, is a whole number of hours from UTC, and the windows open on
whole local hours), and the moment each recent attempt leaves each cap's
window (the windows are closed, so one microsecond after). The first
candidate the rules allow wins; None when none within ``horizon`` does.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from compliance.dial_case import DialCase, Reason
from compliance.dialing_rules import decide
from compliance.frequency_caps import HEALTHCARE_CAPS

#: Refusals that end with time; the others (DNC, consent, number) never do by themselves.
TIME_BOUND = frozenset({Reason.CALLING_HOURS, Reason.MULTI_TIMEZONE_UNSAFE,
                        Reason.HOLIDAY_OR_SUNDAY, Reason.FREQUENCY_CAP})
_CAP_WINDOWS = (timedelta(hours=24), *(window for window, _ in HEALTHCARE_CAPS))
_EPSILON = timedelta(microseconds=1)


#: Answers for cases without recent attempts, which depend only on the key below.
_CACHE: dict[tuple[object, ...], datetime | None] = {}
_CACHE_SIZE = 4096


def next_allowed(case: DialCase, horizon: timedelta = timedelta(days=9)) -> datetime | None:
    """The first moment after ``case.now_utc`` when the rules allow ``case``.

    Costs up to a few hundred decisions; a case without recent attempts is
    answered once per area code, address, kind, facts and hour (its
    candidates are the same whole hours), so a campaign deferred overnight
    costs one search per area code, not one per contact.
    """
    key = None if case.recent_attempts else (
        case.callee_e164[:5], case.callee_address_state, case.message_kind, case.consent,
        case.on_internal_dnc, case.on_national_dnc, case.national_dnc_snapshot_date,
        case.campaign, case.now_utc.replace(minute=0, second=0, microsecond=0), horizon)
    if key is not None and key in _CACHE:
        return _CACHE[key]
    found = _search(case, horizon)
    if key is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def _search(case: DialCase, horizon: timedelta) -> datetime | None:
    now = case.now_utc
    hour = now.replace(minute=0, second=0, microsecond=0)
    candidates = {hour + timedelta(hours=h) for h in range(1, int(horizon / timedelta(hours=1)))}
    candidates |= {at + window + _EPSILON for at in case.recent_attempts for window in _CAP_WINDOWS}
    for moment in sorted(t for t in candidates if now < t <= now + horizon):
        if decide(dataclasses.replace(case, now_utc=moment)).allowed:
            return moment
    return None
