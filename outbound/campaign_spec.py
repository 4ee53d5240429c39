"""A campaign as its YAML file defines it (``config/campaigns/*.yaml``), validated.

    name: flu-shots-2026
    flow: clinic                     # dialog flow run when a person answers
    message_kind: healthcare_reminder  # | informational | telemarketing
    caller_id: "+12025550100"        # must be the trunk's caller ID
    trunk: provider
    business_name: Riverside Clinic  # said in every call, and on machines
    callback_number: "+12025550100"  # (outbound/voicemail_message.py)
    pacing: {max_concurrent_calls: 2, calls_per_s: 1}
    ring_timeout_s: 25               # at least 15
    retry:
      busy: {delays: [10m, 30m], max_attempts: 3}
      no_answer: {delays: [2h], max_attempts: 3}
    active: {from: 2026-01-05, until: 2026-01-30, time_zone: America/New_York}
    contact_fields: [appointment]    # extra CSV columns the flow reads

`CampaignSpec` checks every value (the file's lines come from the loader in
the composition root). `Campaign` is what the scheduler runs, rebuilt from
the stored record, so a node runs what the store holds, not a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callcenter.core.settings import TrunkSettings
from callcenter.core.store import CampaignRecord
from compliance.dial_case import MessageKind
from outbound.retry_policy import RetryPolicy, RetryRule, parse_duration
from outbound.voicemail_message import check_length

#: The shortest ring before giving up (issue 9: never below 15 s).
MIN_RING_TIMEOUT_S = 15.0
#: Columns every contacts file may have; a campaign's ``contact_fields`` add to them.
BASE_COLUMNS = ("number", "name", "address_state", "consent_kind", "consent_date")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")


def business_number(value: str) -> str:
    """A business's own number (caller ID, call-back) as E.164; it may be toll-free.

    Raises ValueError unless it is written with ``+`` and its country code and
    libphonenumber knows it as valid.
    """
    text = str(value).strip()
    if not text.startswith("+"):
        raise ValueError(f"{value!r} needs + and the country code, e.g. +1 202 555 0100")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def trunk_problem(caller_id: str, trunk: str, trunks: Sequence[TrunkSettings]) -> str | None:
    """Why a campaign with ``caller_id`` cannot dial through ``trunk`` given the
    node's ``sip.trunks``, or None. The callee sees the trunk's caller ID, so it
    must be the campaign's: a campaign never dials with another one, or none."""
    found = next((t for t in trunks if t.name == trunk), None)
    if found is None:
        return (f"trunk {trunk!r} is not among sip.trunks "
                f"({', '.join(t.name for t in trunks) or 'none configured'})")
    try:
        theirs: str | None = business_number(found.caller_id or "")
    except ValueError:
        theirs = None
    if theirs != caller_id:
        return (f"trunk {trunk!r} sends caller ID {found.caller_id!r}, not the campaign's "
                f"{caller_id}: set sip.trunks[].caller_id to it")
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetrySpec(_Strict):
    """``{delays: [10m, 30m], max_attempts: 3}``."""

    delays: list[Any] = []
    max_attempts: int = Field(ge=1, le=20)

    @field_validator("delays")
    @classmethod
    def _durations(cls, value: list[Any]) -> list[Any]:
        for item in value:
            parse_duration(item)
        return value

    def rule(self) -> RetryRule:
        """The rule the scheduler applies."""
        return RetryRule(tuple(parse_duration(d) for d in self.delays), self.max_attempts)

    @model_validator(mode="after")
    def _retries_need_delays(self) -> RetrySpec:
        self.rule()
        return self


class PacingSpec(_Strict):
    """How hard one campaign dials."""

    max_concurrent_calls: int = Field(ge=1, le=10000)
    calls_per_s: float = Field(gt=0, le=100)


class ActiveSpec(_Strict):
    """The dates (inclusive, in ``time_zone``) on which the campaign may dial."""

    from_: date = Field(alias="from")
    until: date
    time_zone: str = "America/New_York"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "America/Chicago") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ActiveSpec:
        if self.until < self.from_:
            raise ValueError(f"until ({self.until}) is before from ({self.from_})")
        return self


class CampaignSpec(_Strict):
    """Every field of a campaign file, checked."""

    name: str = Field(pattern=_NAME)
    flow: str = Field(min_length=1, max_length=64)
    message_kind: MessageKind
    caller_id: str
    trunk: str = Field(min_length=1, max_length=64)
    business_name: str = Field(min_length=1, max_length=255)
    callback_number: str
    pacing: PacingSpec
    ring_timeout_s: float = Field(25.0, ge=MIN_RING_TIMEOUT_S, le=300)
    retry: dict[Literal["busy", "no_answer", "machine", "failed", "unknown"], RetrySpec] = {}
    active: ActiveSpec
    contact_fields: list[str] = []

    @field_validator("caller_id", "callback_number", mode="before")
    @classmethod
    def _business_number(cls, value: object) -> str:
        return business_number(str(value))

    @field_validator("contact_fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _FIELD.fullmatch(name):
                raise ValueError(f"{name!r}: a field name is lower-case letters, digits and _")
            if name in BASE_COLUMNS:
                raise ValueError(f"{name!r} is a column of every contacts file already")
        if len(set(value)) != len(value):
            raise ValueError("a field is listed twice")
        return value

    @model_validator(mode="after")
    def _machine_message_fits(self) -> CampaignSpec:
        check_length(self.business_name, self.callback_number, self.message_kind)
        return self

    def policy(self) -> RetryPolicy:
        """The retry policy of the campaign."""
        return RetryPolicy({outcome: spec.rule() for outcome, spec in self.retry.items()})

    def store_values(self, source: str) -> dict[str, Any]:
        """The definition as ``store.campaigns.put_campaign`` takes it."""
        return {"flow": self.flow, "message_kind": self.message_kind.value,
                "caller_id": self.caller_id, "trunk": self.trunk,
                "business_name": self.business_name, "callback_number": self.callback_number,
                "max_concurrent": self.pacing.max_concurrent_calls,
                "calls_per_s": self.pacing.calls_per_s, "ring_timeout_s": self.ring_timeout_s,
                "retry": self.policy().to_json(), "active_from": self.active.from_,
                "active_until": self.active.until, "time_zone": self.active.time_zone,
                "contact_fields": list(self.contact_fields), "source": source}


@dataclass(frozen=True)
class Campaign:
    """A stored campaign as the scheduler runs it."""

    name: str
    flow: str
    message_kind: MessageKind
    caller_id: str
    trunk: str
    business_name: str
    callback_number: str
    max_concurrent: int
    calls_per_s: float
    ring_timeout_s: float
    policy: RetryPolicy
    active_from: date
    active_until: date
    time_zone: ZoneInfo
    state: str

    @classmethod
    def from_record(cls, record: CampaignRecord) -> Campaign:
        """Rebuild from the store (ValueError if the record no longer validates)."""
        return cls(record.name, record.flow, MessageKind(record.message_kind),
                   record.caller_id, record.trunk, record.business_name,
                   record.callback_number, record.max_concurrent, record.calls_per_s,
                   max(record.ring_timeout_s, MIN_RING_TIMEOUT_S),
                   RetryPolicy.from_json(record.retry), record.active_from,
                   record.active_until, ZoneInfo(record.time_zone), record.state)

    def starts_at(self) -> datetime:
        """The first moment the campaign may dial (midnight of its first date)."""
        return datetime.combine(self.active_from, time(), self.time_zone)

    def ends_at(self) -> datetime:
        """The moment the campaign stops dialling (midnight after its last date)."""
        return datetime.combine(date.fromordinal(self.active_until.toordinal() + 1), time(),
                                self.time_zone)

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` falls within the campaign's active dates."""
        return self.starts_at() <= now < self.ends_at()

    def call_facts(self) -> Mapping[str, Any]:
        """What a call of this campaign tells its flow about the business."""
        return {"campaign": self.name, "business_name": self.business_name,
                "callback_number": self.callback_number,
                "message_kind": self.message_kind.value}
