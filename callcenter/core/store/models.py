"""The tables of the store: the call detail record (CDR), the events and the
transcript turns of each call, the business records dialog flows use, the
nodes sharing the store, the do-not-call list and consents of callees, and
the human queue's agents, agent state changes, queue entries and callbacks.

These ORM classes stay inside the store package; callers get plain records
(`callcenter.core.store.records`). Every datetime is timezone-aware UTC on
the way in and on the way out, whatever the database keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so that Alembic batch migrations on SQLite can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that only accepts and returns aware UTC values.

    SQLite keeps no offset, so values are converted to UTC before they are
    written and marked UTC when read back; PostgreSQL returns them in its
    session time zone, so they are converted to UTC on read as well.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class CallRow(Base):
    """One call leg: the call detail record."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # our uuid hex
    node: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16))  # Direction values
    from_uri: Mapped[str] = mapped_column(String())
    to_uri: Mapped[str] = mapped_column(String())
    sip_call_id: Mapped[str] = mapped_column(String())
    started_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # EndReason values
    sip_code: Mapped[int | None] = mapped_column(Integer)
    codec: Mapped[str | None] = mapped_column(String(32))
    recording_path: Mapped[str | None] = mapped_column(String())
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    recording_complete: Mapped[bool] = mapped_column(default=False, server_default=false())
    recording_seconds: Mapped[float | None] = mapped_column(Float)


class CallEventRow(Base):
    """Something that happened during a call, in order."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TurnRow(Base):
    """One turn of a call's transcript: who said what, numbered from 0 within the call."""

    __tablename__ = "turns"
    # Also the index for "the turns of a call": call_id leads it.
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_turns_call_id_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))  # records.SPEAKERS
    text: Mapped[str] = mapped_column(String())
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    confidence: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(128))  # dialog state name
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RecordRow(Base):
    """A business record of some `kind`, under a `key` unique within its kind."""

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_records_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "appointment"
    key: Mapped[str] = mapped_column(String(255))  # e.g. the caller's number "+15551230001"
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class NodeRow(Base):
    """A node (``callcenter serve`` process) under its unique name, with its heartbeat."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    sip_port: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int] = mapped_column(Integer)
    instance: Mapped[str] = mapped_column(String(32))  # random per start: whose row it is
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]  # set by a clean stop, or when found gone


class InternalDncRow(Base):
    """A number on the company's own do-not-call list (see ``dnc_lists``)."""

    __tablename__ = "internal_dnc"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164
    added_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # dnc_lists.DNC_SOURCES
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String())


class DncAuditRow(Base):
    """One change of the internal do-not-call list: who added or removed what, when, why."""

    __tablename__ = "dnc_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(8))  # "add" or "remove"
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String())


class ConsentRow(Base):
    """A consent a callee gave to be called, kept after its revocation."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), index=True)
    campaign: Mapped[str | None] = mapped_column(String(128))  # None: every campaign
    kind: Mapped[str] = mapped_column(String(16))  # dnc_lists.CONSENT_KINDS
    given_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String())
    revoked_at: Mapped[datetime | None]


class AgentRow(Base):
    """An agent of the human queue, as configured (the agents file is the source), and
    their current state (the latest of ``agent_state_changes``)."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # digits keyed at login
    name: Mapped[str] = mapped_column(String(255))
    pin_hash: Mapped[str] = mapped_column(String(255))  # salted hash, never the PIN
    mode: Mapped[str] = mapped_column(String(16))  # "session" or "on_demand"
    phone: Mapped[str | None] = mapped_column(String())  # SIP URI
    skills: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {skill: level}
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    state: Mapped[str] = mapped_column(String(16))  # records.AGENT_STATES
    state_reason: Mapped[str | None] = mapped_column(String(64))
    state_since: Mapped[datetime]
    state_node: Mapped[str | None] = mapped_column(String(128))  # node that set the state
    updated_at: Mapped[datetime]


class AgentStateChangeRow(Base):
    """One change of an agent's state, with its reason and call."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("agents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    call_id: Mapped[str | None] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(128))


class QueueEntryRow(Base):
    """One caller's stay in a queue: from joining (or being turned away) to leaving."""

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_entries_queue_entered_at", "queue", "entered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    caller: Mapped[str | None] = mapped_column(String(64))  # the number, for callbacks
    node: Mapped[str | None] = mapped_column(String(128))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # records.QUEUE_OUTCOMES
    limit_hit: Mapped[str | None] = mapped_column(String(16))  # "max_wait" / "max_length"
    wait_s: Mapped[float | None] = mapped_column(Float)
    agent_id: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("agents.id", ondelete="SET NULL"))
    handle_s: Mapped[float | None] = mapped_column(Float)  # talk + wrap-up, once known


class CallbackRow(Base):
    """A caller's request to be called back, and where it stands."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_status_requested_at", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # records.CALLBACK_REASONS
    requested_at: Mapped[datetime]
    call_id: Mapped[str | None] = mapped_column(String(32))  # the call that asked
    status: Mapped[str] = mapped_column(String(16))  # records.CALLBACK_STATUSES
    status_at: Mapped[datetime]
    node: Mapped[str | None] = mapped_column(String(128))  # the node dialing it
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
