"""Voicemails: the messages callers left at a queue's limit, for a console to list.

``store.voicemails`` (a `Voicemails`) writes and reads the ``voicemails``
table: one row per message (`add`), with the call, the queue, the caller's
number, the WAV's path, its length, what ended the recording (``key``,
``silence``, ``max``, ``hangup``), when and on which node it was recorded,
and whether someone has listened to it yet (`mark_heard`). The audio itself
stays in the file; the row only says where it is.

`store_async.voicemails` (`AsyncVoicemails`) offers the same for asyncio
code, on the `AsyncStore`'s worker thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Float, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.core.store.checks import aware, refused
from callcenter.core.store.models import Base

if TYPE_CHECKING:
    from callcenter.core.store.async_store import AsyncStore
    from callcenter.core.store.store import Store

#: What ended a recording (``callcenter.voicemail.Message.ended_by``).
VOICEMAIL_ENDS = ("key", "silence", "max", "hangup")


class VoicemailRow(Base):
    """One message a caller left."""

    __tablename__ = "voicemails"
    __table_args__ = (Index("ix_voicemails_queue_recorded_at", "queue", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(64))  # the number, to call back
    path: Mapped[str] = mapped_column(String(1024))
    duration_s: Mapped[float] = mapped_column(Float)
    ended_by: Mapped[str] = mapped_column(String(16))  # VOICEMAIL_ENDS
    recorded_at: Mapped[datetime]
    node: Mapped[str | None] = mapped_column(String(128))
    heard_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class VoicemailRecord:
    """One stored message."""

    id: int
    call_id: str
    queue: str
    caller: str | None
    path: str
    duration_s: float
    ended_by: str
    recorded_at: datetime
    node: str | None
    heard_at: datetime | None

    @classmethod
    def from_row(cls, row: VoicemailRow) -> VoicemailRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.call_id, row.queue, row.caller, row.path, row.duration_s,
                   row.ended_by, row.recorded_at, row.node, row.heard_at)


class Voicemails:
    """The voicemail rows of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, call_id: str, queue: str, path: str, duration_s: float, ended_by: str,
            recorded_at: datetime, *, caller: str | None = None,
            node: str | None = None) -> int:
        """Store a message recorded to `path`; returns its id."""
        if ended_by not in VOICEMAIL_ENDS:
            raise refused(f"unknown voicemail end {ended_by!r}; expected one of "
                           f"{', '.join(VOICEMAIL_ENDS)}")
        if duration_s < 0:
            raise refused(f"a voicemail cannot last {duration_s} s")
        aware(recorded_at, "recorded_at")
        with self._store._unit(f"store the voicemail of call {call_id}", write=True) as s:
            row = VoicemailRow(call_id=call_id, queue=queue, caller=caller, path=path,
                               duration_s=float(duration_s), ended_by=ended_by,
                               recorded_at=recorded_at, node=node)
            s.add(row)
            s.flush()
            return row.id

    def mark_heard(self, voicemail_id: int, at: datetime) -> None:
        """Someone listened to the message (the first time counts)."""
        aware(at, "at")
        with self._store._unit(f"mark voicemail {voicemail_id} heard", write=True) as s:
            row = s.get(VoicemailRow, voicemail_id)
            if row is None:
                raise refused(f"unknown voicemail {voicemail_id}")
            if row.heard_at is None:
                row.heard_at = at

    def rows(self, *, queue: str | None = None, unheard: bool = False,
             call_id: str | None = None, limit: int = 100) -> list[VoicemailRecord]:
        """Messages (of one queue or call; only unheard ones), newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = select(VoicemailRow)
        if queue is not None:
            query = query.where(VoicemailRow.queue == queue)
        if call_id is not None:
            query = query.where(VoicemailRow.call_id == call_id)
        if unheard:
            query = query.where(VoicemailRow.heard_at.is_(None))
        query = query.order_by(VoicemailRow.recorded_at.desc(), VoicemailRow.id.desc())
        with self._store._unit("read voicemails") as s:
            return [VoicemailRecord.from_row(r) for r in s.scalars(query.limit(limit))]


class AsyncVoicemails:
    """`Voicemails` for asyncio code, on the `AsyncStore`'s one worker thread."""

    def __init__(self, store: AsyncStore) -> None:
        self._async = store
        self._tables = Voicemails(store.store)

    async def add(self, call_id: str, queue: str, path: str, duration_s: float,
                  ended_by: str, recorded_at: datetime, *, caller: str | None = None,
                  node: str | None = None) -> int:
        """See `Voicemails.add`."""
        return await self._async._run(functools.partial(
            self._tables.add, call_id, queue, path, duration_s, ended_by, recorded_at,
            caller=caller, node=node))

    async def mark_heard(self, voicemail_id: int, at: datetime) -> None:
        """See `Voicemails.mark_heard`."""
        await self._async._run(self._tables.mark_heard, voicemail_id, at)

    async def rows(self, *, queue: str | None = None, unheard: bool = False,
                   call_id: str | None = None, limit: int = 100) -> list[VoicemailRecord]:
        """See `Voicemails.rows`."""
        return await self._async._run(functools.partial(
            self._tables.rows, queue=queue, unheard=unheard, call_id=call_id, limit=limit))
