"""The tables of outbound campaigns: campaigns, their contacts, and dial attempts.

Kept apart from ``models`` (same ``Base``, same naming convention) because
they are one feature's tables; ``campaign_tables`` is the only writer.

An attempt row exists from the moment it is scheduled (``next_due``). A node
claims it in the store (``claimed_at``, ``node``) before any rule check or
INVITE, stamps ``dialed_at`` just before the INVITE, and closes it with an
``outcome`` and ``ended_at``; a retry is a new row with the next number. A
live answer also gets ``greeted_at``/``abandoned`` (was the callee greeted
within 2 s?) and what the flow reached, ``result``/``result_detail``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.core.store.models import Base


class CampaignRow(Base):
    """An outbound campaign as defined in its YAML file, and whether it runs."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    message_kind: Mapped[str] = mapped_column(String(32))
    caller_id: Mapped[str] = mapped_column(String(16))  # E.164
    trunk: Mapped[str] = mapped_column(String(64))
    business_name: Mapped[str] = mapped_column(String(255))
    callback_number: Mapped[str] = mapped_column(String(16))  # E.164
    max_concurrent: Mapped[int] = mapped_column(Integer)
    calls_per_s: Mapped[float] = mapped_column(Float)
    ring_timeout_s: Mapped[float] = mapped_column(Float)
    retry: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # outcome -> policy
    active_from: Mapped[date] = mapped_column(Date)
    active_until: Mapped[date] = mapped_column(Date)
    time_zone: Mapped[str] = mapped_column(String(64))  # of the active dates
    contact_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))  # campaign_tables.CAMPAIGN_STATES
    source: Mapped[str] = mapped_column(String())  # the file it came from
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Why the dialer put it in its state (an abandonment pause); None after a command.
    state_reason: Mapped[str | None] = mapped_column(String(200))


class ContactRow(Base):
    """A callee of a campaign, as imported from CSV, and their final result."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (UniqueConstraint("campaign", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(
        String(64), ForeignKey("campaigns.name", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(16), index=True)  # E.164
    name: Mapped[str | None] = mapped_column(String(255))
    address_state: Mapped[str | None] = mapped_column(String(2))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_row: Mapped[int] = mapped_column(Integer)  # line of the CSV, header = 1
    result: Mapped[str | None] = mapped_column(String(16))  # set when nothing is left to do
    result_detail: Mapped[str | None] = mapped_column(String())
    imported_at: Mapped[datetime]


class AttemptRow(Base):
    """One attempt to call a contact: scheduled, claimed, dialled, finished."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        UniqueConstraint("contact_id", "attempt_no"),
        Index("ix_campaign_attempts_due", "campaign", "claimed_at", "next_due"),
        Index("ix_campaign_attempts_number_dialed_at", "number", "dialed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(
        String(64), ForeignKey("campaigns.name", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("campaign_contacts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(16))  # the contact's, for the caps' lookups
    attempt_no: Mapped[int] = mapped_column(Integer)  # 1, 2, ...
    next_due: Mapped[datetime]
    deferrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_at: Mapped[datetime | None]
    node: Mapped[str | None] = mapped_column(String(128))
    dialed_at: Mapped[datetime | None]  # stamped before the INVITE
    outcome: Mapped[str | None] = mapped_column(String(16))  # campaign_tables.ATTEMPT_OUTCOMES
    reason: Mapped[str | None] = mapped_column(String(32))  # the rules' reason when blocked
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the rules' last answer
    sip_code: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(32))
    ended_at: Mapped[datetime | None]
    #: What the flow reached with a live person (confirmed, cancelled, rescheduled,
    #: opted_out, ...), and its detail (e.g. the new time of a reschedule, ISO).
    result: Mapped[str | None] = mapped_column(String(32))
    result_detail: Mapped[str | None] = mapped_column(String())
    greeted_at: Mapped[datetime | None]  # the engine's first words reached the callee
    abandoned: Mapped[bool | None] = mapped_column(Boolean)  # live, not greeted within 2 s
