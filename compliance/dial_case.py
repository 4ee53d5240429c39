"""The question and the answer of the dialing rules: ``DialCase`` and ``DialDecision``.

A ``DialCase`` carries every fact the decision needs, the clock included, so
that the decision is a pure function of it: the same case always gets the
same answer, today or in an audit a year later.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import TypeVar

from callcenter.core.errors import CallCenterError
from compliance.us_states import is_us_state

_E = TypeVar("_E", bound=enum.StrEnum)


class MessageKind(enum.StrEnum):
    """What the call is for; each kind has its own consent, caps and hours."""

    HEALTHCARE_REMINDER = "healthcare_reminder"
    INFORMATIONAL = "informational"
    TELEMARKETING = "telemarketing"


class Consent(enum.StrEnum):
    """The strongest consent the callee has given for this campaign's calls."""

    NONE = "none"
    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"


class Reason(enum.StrEnum):
    """Why a dial is refused (or ``OK``), in the order the checks run."""

    INVALID_NUMBER = "invalid_number"
    INTERNAL_DNC = "internal_dnc"
    NATIONAL_DNC = "national_dnc"
    NO_CONSENT = "no_consent"
    FREQUENCY_CAP = "frequency_cap"
    HOLIDAY_OR_SUNDAY = "holiday_or_sunday"
    CALLING_HOURS = "calling_hours"
    MULTI_TIMEZONE_UNSAFE = "multi_timezone_unsafe"
    OK = "ok"


class DialCaseError(CallCenterError):
    """A case fact is missing or malformed; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class DialCase:
    """Everything the decision "may this number be dialled now?" depends on.

    Timestamps must be timezone-aware; they are kept in UTC. The attempts are
    those that count toward this campaign's caps (see ``DialFacts``), in any
    order. ``national_dnc_snapshot_date`` is the date of the National DNC
    Registry download that ``on_national_dnc`` was read from; None means
    unknown, which stops telemarketing.
    """

    callee_e164: str
    now_utc: datetime
    message_kind: MessageKind
    campaign: str
    consent: Consent = Consent.NONE
    on_internal_dnc: bool = False
    on_national_dnc: bool = False
    national_dnc_snapshot_date: date | None = None
    recent_attempts: tuple[datetime, ...] = ()
    callee_address_state: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "now_utc", _utc("now_utc", self.now_utc))
        object.__setattr__(self, "recent_attempts",
                           tuple(_utc("recent_attempts", t) for t in self.recent_attempts))
        object.__setattr__(self, "message_kind",
                           _member(MessageKind, "message_kind", self.message_kind))
        object.__setattr__(self, "consent", _member(Consent, "consent", self.consent))
        if not isinstance(self.callee_e164, str):
            raise DialCaseError("callee_e164", f"{self.callee_e164!r} is not a string")
        if not isinstance(self.campaign, str) or not self.campaign:
            raise DialCaseError("campaign", "must be a non-empty string")
        state = self.callee_address_state
        if state is not None and not is_us_state(state):
            raise DialCaseError("callee_address_state",
                                f"{state!r} is not the postal code of a US state or territory")


@dataclass(frozen=True)
class ZoneVerdict:
    """The calling-window verdict in one candidate zone of the callee."""

    zone: str
    local_time: datetime
    #: ``OK``, ``HOLIDAY_OR_SUNDAY`` or ``CALLING_HOURS``.
    reason: Reason
    rule_id: str
    detail: str

    @property
    def allowed(self) -> bool:
        """Whether a call may ring in this zone now."""
        return self.reason is Reason.OK


@dataclass(frozen=True)
class DialDecision:
    """The answer: allowed or not, the first failing check, and what it saw.

    ``rule_id`` names the exact rule that decided (``ok`` when allowed);
    ``states`` and ``zone_verdicts`` are empty for an invalid number.
    """

    allowed: bool
    reason: Reason
    rule_id: str
    detail: str
    states: tuple[str, ...] = ()
    zone_verdicts: tuple[ZoneVerdict, ...] = ()
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def zones(self) -> tuple[str, ...]:
        """The candidate zones of the callee, sorted."""
        return tuple(v.zone for v in self.zone_verdicts)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: the contract's keys first, then what the rules saw."""
        return {
            "allowed": self.allowed,
            "reason": self.reason.value,
            "rule_id": self.rule_id,
            "detail": self.detail,
            "states": list(self.states),
            "zones": list(self.zones),
            "local_times": {v.zone: v.local_time.isoformat() for v in self.zone_verdicts},
            "zone_verdicts": {v.zone: {"reason": v.reason.value, "rule_id": v.rule_id}
                              for v in self.zone_verdicts},
            **self.extra,
        }


def _member(kind: type[_E], field_name: str, value: object) -> _E:
    for member in kind:
        if member.value == value:
            return member
    choices = "|".join(member.value for member in kind)
    raise DialCaseError(field_name, f"{value!r} is not one of {choices}")


def _utc(field_name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise DialCaseError(field_name, f"{value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise DialCaseError(field_name, f"{value.isoformat()} has no UTC offset")
    return value.astimezone(UTC)
