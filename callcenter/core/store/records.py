"""What the store hands out: plain, immutable copies of its rows.

Records never hold a database session, so they can cross threads, be kept
after the store is closed and be turned into JSON with `to_dict()`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.core.call import Direction, EndReason
from callcenter.core.store.models import (
    AgentRow,
    AgentStateChangeRow,
    CallbackRow,
    CallEventRow,
    CallRow,
    QueueEntryRow,
    TurnRow,
)

# Who can speak in a turn: the caller, the engine (the voice bot) or a human agent.
SPEAKERS = ("caller", "engine", "agent")

#: Agent states (the values of ``acd.agent_state.AgentState``).
AGENT_STATES = ("logged_out", "ready", "offered", "on_call", "wrap_up", "not_ready")
#: How a caller left a queue (``acd.queue_model.Outcome``).
QUEUE_OUTCOMES = ("answered", "abandoned", "timeout", "full", "callback", "transferred",
                  "voicemail")
#: Which queue limit decided an outcome (``acd.queue_model.Limit``).
QUEUE_LIMITS = ("max_wait", "max_length")
#: Why a callback was requested (``acd.queue_model.CallbackReason``).
CALLBACK_REASONS = ("caller_key", "max_wait", "max_length")
#: Where a callback stands: waiting, being dialled by a node, or finished.
CALLBACK_STATUSES = ("pending", "dialing", "done", "failed", "cancelled")
AGENT_MODES = ("session", "on_demand")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call detail record. Times are timezone-aware UTC."""

    id: str
    node: str
    direction: Direction
    from_uri: str
    to_uri: str
    sip_call_id: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: EndReason | None
    sip_code: int | None
    codec: str | None
    recording_path: str | None
    recording_sha256: str | None
    recording_complete: bool
    recording_seconds: float | None

    @classmethod
    def from_row(cls, row: CallRow) -> CallRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(
            id=row.id,
            node=row.node,
            direction=Direction(row.direction),
            from_uri=row.from_uri,
            to_uri=row.to_uri,
            sip_call_id=row.sip_call_id,
            started_at=row.started_at,
            answered_at=row.answered_at,
            ended_at=row.ended_at,
            end_reason=None if row.end_reason is None else EndReason(row.end_reason),
            sip_code=row.sip_code,
            codec=row.codec,
            recording_path=row.recording_path,
            recording_sha256=row.recording_sha256,
            recording_complete=row.recording_complete,
            recording_seconds=row.recording_seconds,
        )

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end, or None while the call is still running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values: ISO 8601 times, enum values as strings."""
        return {
            "id": self.id,
            "node": self.node,
            "direction": self.direction.value,
            "from_uri": self.from_uri,
            "to_uri": self.to_uri,
            "sip_call_id": self.sip_call_id,
            "started_at": _iso(self.started_at),
            "answered_at": _iso(self.answered_at),
            "ended_at": _iso(self.ended_at),
            "end_reason": None if self.end_reason is None else self.end_reason.value,
            "sip_code": self.sip_code,
            "codec": self.codec,
            "recording_path": self.recording_path,
            "recording_sha256": self.recording_sha256,
            "recording_complete": self.recording_complete,
            "recording_seconds": self.recording_seconds,
            "duration_seconds": self.duration_seconds,
        }


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of a call. `data` is a private copy; changing it changes nothing stored."""

    id: int
    call_id: str
    at: datetime
    kind: str
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: CallEventRow) -> EventRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(
            id=row.id,
            call_id=row.call_id,
            at=row.at,
            kind=row.kind,
            data=copy.deepcopy(row.data),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values: the time in ISO 8601, `data` as stored."""
        return {
            "id": self.id,
            "call_id": self.call_id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "data": copy.deepcopy(self.data),
        }


@dataclass(frozen=True, slots=True)
class TurnInput:
    """One turn to append to a call's transcript (`Store.add_turn` numbers it).

    `speaker` is one of `SPEAKERS` (a ``StrEnum`` with those values works too);
    times must be timezone-aware; `data` holds JSON-able extras such as DTMF
    digits, slot values or latencies in milliseconds.
    """

    speaker: str
    text: str
    started_at: datetime
    ended_at: datetime | None = None
    confidence: float | None = None
    intent: str | None = None
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One stored turn of a call's transcript; `seq` counts from 0 within the call.

    Times are timezone-aware UTC. `data` is a private copy; changing it changes
    nothing stored.
    """

    id: int
    call_id: str
    seq: int
    speaker: str
    text: str
    started_at: datetime
    ended_at: datetime | None
    confidence: float | None
    intent: str | None
    state: str | None
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: TurnRow) -> TurnRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(
            id=row.id,
            call_id=row.call_id,
            seq=row.seq,
            speaker=row.speaker,
            text=row.text,
            started_at=row.started_at,
            ended_at=row.ended_at,
            confidence=row.confidence,
            intent=row.intent,
            state=row.state,
            data=copy.deepcopy(row.data),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values: times in ISO 8601, `data` as stored."""
        return {
            "id": self.id,
            "call_id": self.call_id,
            "seq": self.seq,
            "speaker": self.speaker,
            "text": self.text,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "confidence": self.confidence,
            "intent": self.intent,
            "state": self.state,
            "data": copy.deepcopy(self.data),
        }


@dataclass(frozen=True, slots=True)
class AgentInput:
    """An agent as configured, to write with `AcdTables.sync_agents` (a PIN *hash*)."""

    id: str
    name: str
    pin_hash: str
    mode: str = "session"
    phone: str | None = None
    skills: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A stored agent and their current state; times are timezone-aware UTC."""

    id: str
    name: str
    pin_hash: str
    mode: str
    phone: str | None
    skills: dict[str, int]
    active: bool
    state: str
    state_reason: str | None
    state_since: datetime
    state_node: str | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: AgentRow) -> AgentRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.name, row.pin_hash, row.mode, row.phone,
                   copy.deepcopy(row.skills), row.active, row.state, row.state_reason,
                   row.state_since, row.state_node, row.updated_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values for reports and a console; the PIN hash is left out."""
        return {"id": self.id, "name": self.name, "mode": self.mode, "phone": self.phone,
                "skills": dict(self.skills), "active": self.active, "state": self.state,
                "state_reason": self.state_reason, "state_since": self.state_since.isoformat(),
                "state_node": self.state_node, "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True, slots=True)
class AgentStateRecord:
    """One stored change of an agent's state."""

    id: int
    agent_id: str
    state: str
    reason: str | None
    at: datetime
    call_id: str | None
    node: str | None

    @classmethod
    def from_row(cls, row: AgentStateChangeRow) -> AgentStateRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.agent_id, row.state, row.reason, row.at, row.call_id, row.node)


@dataclass(frozen=True, slots=True)
class QueueEntryRecord:
    """One caller's stay in a queue; `left_at`, `outcome`, `wait_s` None while waiting."""

    id: int
    call_id: str
    queue: str
    priority: int
    caller: str | None
    node: str | None
    entered_at: datetime
    left_at: datetime | None
    outcome: str | None
    limit_hit: str | None
    wait_s: float | None
    agent_id: str | None
    handle_s: float | None

    @classmethod
    def from_row(cls, row: QueueEntryRow) -> QueueEntryRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.call_id, row.queue, row.priority, row.caller, row.node,
                   row.entered_at, row.left_at, row.outcome, row.limit_hit, row.wait_s,
                   row.agent_id, row.handle_s)


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """A stored callback request and where it stands."""

    id: int
    number: str
    queue: str
    reason: str
    requested_at: datetime
    call_id: str | None
    status: str
    status_at: datetime
    node: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: CallbackRow) -> CallbackRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.number, row.queue, row.reason, row.requested_at, row.call_id,
                   row.status, row.status_at, row.node, row.attempts)
