"""Records of outbound campaigns: what the store hands out (detached from
its ORM rows) and what it takes in (contacts to import), and the states
and outcomes they may hold. :mod:`callcenter.core.store.campaign_tables`
reads and writes them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from callcenter.core.store.campaign_rows import AttemptRow, CampaignRow, ContactRow

#: A campaign is created ``new``; ``start`` makes it ``running``, ``pause`` ``paused``.
CAMPAIGN_STATES = ("new", "running", "paused")
#: How an attempt ended. ``blocked``: the dialing rules refused it (``reason`` says
#: why); ``unknown``: its node died after the INVITE; ``expired``: the campaign's
#: active dates ended first; ``opted_out``: the callee asked not to be called again
#: (by key or by voice) and is on the internal DNC list.
ATTEMPT_OUTCOMES = ("answered", "busy", "no_answer", "machine", "failed", "unknown",
                    "blocked", "expired", "opted_out")

@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A stored campaign. ``retry`` maps an outcome to its policy (plain JSON)."""

    name: str
    flow: str
    message_kind: str
    caller_id: str
    trunk: str
    business_name: str
    callback_number: str
    max_concurrent: int
    calls_per_s: float
    ring_timeout_s: float
    retry: dict[str, Any]
    active_from: date
    active_until: date
    time_zone: str
    contact_fields: list[str]
    state: str
    source: str
    created_at: datetime
    updated_at: datetime
    state_reason: str | None = None  # why the dialer set the state (see set_state)

    @classmethod
    def from_row(cls, row: CampaignRow) -> CampaignRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.name, row.flow, row.message_kind, row.caller_id, row.trunk,
                   row.business_name, row.callback_number, row.max_concurrent,
                   row.calls_per_s, row.ring_timeout_s, copy.deepcopy(row.retry),
                   row.active_from, row.active_until, row.time_zone,
                   list(row.contact_fields), row.state, row.source, row.created_at,
                   row.updated_at, row.state_reason)


@dataclass(frozen=True, slots=True)
class ContactInput:
    """A contact to import: an E.164 number and what the flow may read about them."""

    number: str
    source_row: int
    name: str | None = None
    address_state: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    consent_kind: str = "none"
    consent_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A stored contact and, once nothing is left to do, its result."""

    id: int
    campaign: str
    number: str
    name: str | None
    address_state: str | None
    fields: dict[str, Any]
    source_row: int
    result: str | None
    result_detail: str | None

    @classmethod
    def from_row(cls, row: ContactRow) -> ContactRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.campaign, row.number, row.name, row.address_state,
                   copy.deepcopy(row.fields), row.source_row, row.result, row.result_detail)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt, with the contact details the dialer needs."""

    id: int
    campaign: str
    contact_id: int
    number: str
    attempt_no: int
    next_due: datetime
    deferrals: int
    claimed_at: datetime | None
    node: str | None
    dialed_at: datetime | None
    outcome: str | None
    reason: str | None
    decision: dict[str, Any] | None
    sip_code: int | None
    call_id: str | None
    ended_at: datetime | None
    contact_name: str | None = None
    address_state: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    #: What the flow reached with a live person (confirmed, cancelled,
    #: rescheduled, opted_out, ...) and its detail (a reschedule's new time).
    result: str | None = None
    result_detail: str | None = None
    #: When the engine's first words reached a live callee, and whether it was
    #: later than 2 s after the answer (an abandoned call); None when no person.
    greeted_at: datetime | None = None
    abandoned: bool | None = None

    @classmethod
    def from_rows(cls, row: AttemptRow, contact: ContactRow | None = None) -> AttemptRecord:
        """Copy ORM rows (inside their session) into a detached record."""
        return cls(row.id, row.campaign, row.contact_id, row.number, row.attempt_no,
                   row.next_due, row.deferrals, row.claimed_at, row.node, row.dialed_at,
                   row.outcome, row.reason, copy.deepcopy(row.decision), row.sip_code,
                   row.call_id, row.ended_at,
                   contact.name if contact else None,
                   contact.address_state if contact else None,
                   copy.deepcopy(contact.fields) if contact else {},
                   row.result, row.result_detail, row.greeted_at, row.abandoned)
