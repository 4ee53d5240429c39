"""The audit trail of supervisors listening in: one row per supervisor per call.

``store.supervision`` (a `SupervisionAudit`) writes and reads the
``supervision_audit`` table:

- `open` when a supervisor asks to join a call (who, which call, which mode,
  how: their phone rung or their agent session), before their phone rings;
- `joined` when their leg is joined to the call;
- `mode_changed` for every change of mode: the row's ``mode`` is the latest,
  ``mode_log`` every mode in order with when it began (the first is the
  starting mode), so the time spent in each mode can be read back;
- `close` once: when and how it ended (``end_reason``, the values of
  ``callcenter.monitoring.MonitorEnd``; ``sip_code`` when the phone did not
  answer) and ``duration_s``, the seconds the supervisor was joined.

`store_async.supervision` (`AsyncSupervisionAudit`) offers the same for
asyncio code, on the `AsyncStore`'s worker thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Float, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.core.store.checks import aware, choice, refused
from callcenter.core.store.models import Base

if TYPE_CHECKING:
    from callcenter.core.store.async_store import AsyncStore
    from callcenter.core.store.store import Store

#: Modes (``callcenter.monitoring.MonitorMode``).
MONITOR_MODES = ("listen", "whisper", "barge")
#: How a monitor ended (``callcenter.monitoring.MonitorEnd``).
MONITOR_ENDS = ("stopped", "call_ended", "supervisor_hung_up", "no_answer", "failed",
                "shutdown")
#: How the supervisor was reached: their phone rung, or their agent session.
MONITOR_VIAS = ("phone", "session")


class SupervisionAuditRow(Base):
    """One supervisor's presence on one call, from the request to its end."""

    __tablename__ = "supervision_audit"
    __table_args__ = (Index("ix_supervision_audit_supervisor_started_at", "supervisor",
                            "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(String(32), unique=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)  # the monitored call
    supervisor: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))  # MONITOR_VIAS
    phone: Mapped[str | None] = mapped_column(String(255))
    leg_call_id: Mapped[str | None] = mapped_column(String(32))  # the supervisor's leg
    node: Mapped[str | None] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))  # the latest; MONITOR_MODES
    mode_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{mode, at}], in order
    started_at: Mapped[datetime]
    joined_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # MONITOR_ENDS
    sip_code: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)  # joined seconds


@dataclass(frozen=True, slots=True)
class SupervisionAuditRecord:
    """One audit row; ``mode_log`` is ``[(mode, began_at), ...]`` in order."""

    id: int
    monitor_id: str
    call_id: str
    supervisor: str
    via: str
    phone: str | None
    leg_call_id: str | None
    node: str | None
    mode: str
    mode_log: tuple[tuple[str, datetime], ...]
    started_at: datetime
    joined_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    sip_code: int | None
    duration_s: float | None

    @classmethod
    def from_row(cls, row: SupervisionAuditRow) -> SupervisionAuditRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        log = tuple((str(item["mode"]), datetime.fromisoformat(item["at"]))
                    for item in row.mode_log)
        return cls(row.id, row.monitor_id, row.call_id, row.supervisor, row.via, row.phone,
                   row.leg_call_id, row.node, row.mode, log, row.started_at, row.joined_at,
                   row.ended_at, row.end_reason, row.sip_code, row.duration_s)


class SupervisionAudit:
    """The audit rows of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def open(self, monitor_id: str, call_id: str, supervisor: str, mode: str,
             started_at: datetime, *, via: str, phone: str | None = None,
             node: str | None = None) -> None:
        """A supervisor asked to join `call_id` in `mode` (before any phone rings)."""
        mode = choice(mode, MONITOR_MODES, "monitor mode")
        via = choice(via, MONITOR_VIAS, "monitor via")
        aware(started_at, "started_at")
        with self._store._unit(f"open the supervision audit of {monitor_id}", write=True) as s:
            s.add(SupervisionAuditRow(
                monitor_id=monitor_id, call_id=call_id, supervisor=supervisor, via=via,
                phone=phone, node=node, mode=mode, started_at=started_at,
                mode_log=[{"mode": mode, "at": started_at.isoformat()}]))

    def _row(self, s: Any, monitor_id: str) -> SupervisionAuditRow:
        row = s.scalars(select(SupervisionAuditRow).where(
            SupervisionAuditRow.monitor_id == monitor_id).with_for_update()).first()
        if row is None:
            raise refused(f"unknown monitor {monitor_id!r}: no supervision audit row")
        return row  # type: ignore[no-any-return]

    def joined(self, monitor_id: str, at: datetime, leg_call_id: str) -> None:
        """The supervisor's leg `leg_call_id` was joined to the call."""
        aware(at, "at")
        with self._store._unit(f"note monitor {monitor_id} joined", write=True) as s:
            row = self._row(s, monitor_id)
            row.joined_at, row.leg_call_id = at, leg_call_id

    def mode_changed(self, monitor_id: str, mode: str, at: datetime) -> None:
        """The supervisor switched to `mode` at `at`."""
        mode = choice(mode, MONITOR_MODES, "monitor mode")
        aware(at, "at")
        with self._store._unit(f"note the mode of monitor {monitor_id}", write=True) as s:
            row = self._row(s, monitor_id)
            row.mode = mode
            row.mode_log = [*row.mode_log, {"mode": mode, "at": at.isoformat()}]

    def close(self, monitor_id: str, at: datetime, end_reason: str, *,
              sip_code: int | None = None) -> SupervisionAuditRecord:
        """Note how and when it ended; closing twice is refused."""
        end_reason = choice(end_reason, MONITOR_ENDS, "monitor end")
        aware(at, "at")
        with self._store._unit(f"close the supervision audit of {monitor_id}",
                               write=True) as s:
            row = self._row(s, monitor_id)
            if row.ended_at is not None:
                raise refused(f"monitor {monitor_id} is already closed ({row.end_reason})")
            row.ended_at, row.end_reason, row.sip_code = at, end_reason, sip_code
            if row.joined_at is not None:
                row.duration_s = max(0.0, (at - row.joined_at).total_seconds())
            s.flush()
            return SupervisionAuditRecord.from_row(row)

    def rows(self, *, call_id: str | None = None, supervisor: str | None = None,
             since: datetime | None = None, limit: int = 100) -> list[SupervisionAuditRecord]:
        """Audit rows (of one call, one supervisor, from `since`), oldest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = select(SupervisionAuditRow)
        if call_id is not None:
            query = query.where(SupervisionAuditRow.call_id == call_id)
        if supervisor is not None:
            query = query.where(SupervisionAuditRow.supervisor == supervisor)
        if since is not None:
            query = query.where(SupervisionAuditRow.started_at >= aware(since, "since"))
        query = query.order_by(SupervisionAuditRow.started_at, SupervisionAuditRow.id)
        with self._store._unit("read the supervision audit") as s:
            return [SupervisionAuditRecord.from_row(r) for r in s.scalars(query.limit(limit))]


class AsyncSupervisionAudit:
    """`SupervisionAudit` for asyncio code, on the `AsyncStore`'s one worker thread."""

    def __init__(self, store: AsyncStore) -> None:
        self._async = store
        self._tables = SupervisionAudit(store.store)

    async def open(self, monitor_id: str, call_id: str, supervisor: str, mode: str,
                   started_at: datetime, *, via: str, phone: str | None = None,
                   node: str | None = None) -> None:
        """See `SupervisionAudit.open`."""
        await self._async._run(functools.partial(
            self._tables.open, monitor_id, call_id, supervisor, mode, started_at, via=via,
            phone=phone, node=node))

    async def joined(self, monitor_id: str, at: datetime, leg_call_id: str) -> None:
        """See `SupervisionAudit.joined`."""
        await self._async._run(self._tables.joined, monitor_id, at, leg_call_id)

    async def mode_changed(self, monitor_id: str, mode: str, at: datetime) -> None:
        """See `SupervisionAudit.mode_changed`."""
        await self._async._run(self._tables.mode_changed, monitor_id, mode, at)

    async def close(self, monitor_id: str, at: datetime, end_reason: str, *,
                    sip_code: int | None = None) -> SupervisionAuditRecord:
        """See `SupervisionAudit.close`."""
        return await self._async._run(functools.partial(
            self._tables.close, monitor_id, at, end_reason, sip_code=sip_code))

    async def rows(self, *, call_id: str | None = None, supervisor: str | None = None,
                   since: datetime | None = None,
                   limit: int = 100) -> list[SupervisionAuditRecord]:
        """See `SupervisionAudit.rows`."""
        return await self._async._run(functools.partial(
            self._tables.rows, call_id=call_id, supervisor=supervisor, since=since,
            limit=limit))
