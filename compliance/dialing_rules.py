"""May this number be dialled now for this campaign? The ordered decision.

``decide`` is pure: it reads only its ``DialCase`` (whose ``now_utc`` is the
clock), touches no store and no wall clock, and so answers the same for the
dialer before every dial, for the ``callcenter outbound check`` command and
for an auditor replaying a case.

The checks run in this order and the first that fails is the reason:

1. ``invalid_number``: see ``compliance.numbers``;
2. ``internal_dnc``: the company's own list stops every kind of call;
3. ``national_dnc``: telemarketing only. A listed number needs prior express
   written consent; and with no registry snapshot, or one older than 31 days
   (counted in UTC calendar days, so a snapshot dated D serves through D+31),
   telemarketing stops whatever the consent;
4. ``no_consent``: telemarketing needs prior express written consent,
   informational calls express (or written) consent, healthcare reminders none;
5. ``frequency_cap``: see ``compliance.frequency_caps``;
6. ``holiday_or_sunday``, ``calling_hours``, ``multi_timezone_unsafe``: the
   windows of ``compliance.calling_windows``, judged in every candidate zone
   of the callee. All allow: ``ok``. Some allow and some do not:
   ``multi_timezone_unsafe``. None allows: ``holiday_or_sunday`` if a day rule
   closed any zone, else ``calling_hours``.

The candidate zones are the number's (``compliance.numbers``); an address
state not among the number's states adds its zones (``us_states``) and its
rules.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import MappingProxyType

from compliance.calling_windows import judge_zone
from compliance.dial_case import Consent, DialCase, DialDecision, MessageKind, Reason
from compliance.frequency_caps import cap_reached
from compliance.numbers import NumberProblem, check_number
from compliance.us_states import STATE_ZONES

#: The oldest National DNC Registry snapshot telemarketing may rely on.
NATIONAL_DNC_MAX_AGE = timedelta(days=31)

#: Consents that satisfy each kind of call.
SUFFICIENT_CONSENT: dict[MessageKind, frozenset[Consent]] = {
    MessageKind.TELEMARKETING: frozenset({Consent.EXPRESS_WRITTEN}),
    MessageKind.INFORMATIONAL: frozenset({Consent.EXPRESS, Consent.EXPRESS_WRITTEN}),
    MessageKind.HEALTHCARE_REMINDER: frozenset(Consent),
}

#: Detail every refusal for a missing or stale registry snapshot starts with.
SNAPSHOT_STALE_OR_MISSING = "registry_snapshot_stale_or_missing"


def decide(case: DialCase) -> DialDecision:
    """The decision for ``case``: the first failing check, or ``ok``."""
    number = check_number(case.callee_e164)
    if isinstance(number, NumberProblem):
        return DialDecision(False, Reason.INVALID_NUMBER, number.rule_id, number.detail)
    states, zones = set(number.states), set(number.zones)
    address = case.callee_address_state
    if address is not None and address not in states:
        states.add(address)
        zones.update(STATE_ZONES[address])
    verdicts = tuple(judge_zone(case.now_utc, zone, states, case.message_kind)
                     for zone in sorted(zones))

    def refuse(reason: Reason, rule_id: str, detail: str, **extra: object) -> DialDecision:
        return DialDecision(False, reason, rule_id, detail, tuple(sorted(states)), verdicts,
                            MappingProxyType(extra))

    kind = case.message_kind
    if case.on_internal_dnc:
        return refuse(Reason.INTERNAL_DNC, "dnc.internal", "on the company's do-not-call list")
    if kind is MessageKind.TELEMARKETING:
        if case.on_national_dnc and case.consent is not Consent.EXPRESS_WRITTEN:
            return refuse(Reason.NATIONAL_DNC, "dnc.national.listed",
                          "on the National DNC Registry, without written consent")
        stale = _snapshot_problem(case.national_dnc_snapshot_date, case.now_utc.date())
        if stale is not None:
            return refuse(Reason.NATIONAL_DNC, stale[0], f"{SNAPSHOT_STALE_OR_MISSING}: "
                          f"{stale[1]}", national_dnc_snapshot_date=(
                              case.national_dnc_snapshot_date.isoformat()
                              if case.national_dnc_snapshot_date else None))
    if case.consent not in SUFFICIENT_CONSENT[kind]:
        needed = "prior express written" if kind is MessageKind.TELEMARKETING else "express"
        return refuse(Reason.NO_CONSENT, f"consent.{kind.value}",
                      f"{kind.value} needs {needed} consent; on record: {case.consent.value}")
    cap = cap_reached(kind, states, case.recent_attempts, case.now_utc)
    if cap is not None:
        return refuse(Reason.FREQUENCY_CAP, cap.rule_id, cap.detail,
                      attempts_in_window=cap.attempts_in_window)
    closed = [v for v in verdicts if not v.allowed]
    if not closed:
        return DialDecision(True, Reason.OK, "ok", "may be dialled now",
                            tuple(sorted(states)), verdicts)
    if len(closed) < len(verdicts):
        return refuse(Reason.MULTI_TIMEZONE_UNSAFE, "house.multi_timezone",
                      "allowed in some candidate zones only; closed in "
                      + "; ".join(v.detail for v in closed))
    first = min(closed, key=lambda v: list(Reason).index(v.reason))
    return refuse(first.reason, first.rule_id, first.detail)


def _snapshot_problem(snapshot: date | None, today_utc: date) -> tuple[str, str] | None:
    if snapshot is None:
        return "dnc.national.snapshot_missing", "no registry snapshot date"
    age = today_utc - snapshot
    if age < timedelta(0):
        return ("dnc.national.snapshot_after_clock",
                f"snapshot of {snapshot} is later than the clock")
    if age > NATIONAL_DNC_MAX_AGE:
        return ("dnc.national.snapshot_stale",
                f"snapshot of {snapshot} is {age.days} days old; at most "
                f"{NATIONAL_DNC_MAX_AGE.days}")
    return None
