"""The human queue's tables: agents, their state changes, queue entries, callbacks.

``store.acd`` (an `AcdTables`) keeps what reports and a console read:

- ``agents``: the agents file written at start (`sync_agents`; the file is
  the source, agents it no longer lists become inactive), PINs only as the
  hashes given, and each agent's current state;
- ``agent_state_changes``: every change with its reason, call and node,
  written with the agent's current state in one transaction (`record_state`);
- ``queue_entries``: each caller's stay in a queue, opened on joining and
  closed with its outcome and wait (`open_entry`, `close_entry`);
- ``callbacks``: requests to be called back, claimed by one node at a time
  (`claim_callback`, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Values the ACD names (states, outcomes, reasons, statuses) are checked
against the tuples in `records`, so that a typo fails at once instead of hiding
in reports. `store_async.acd` (`AsyncAcdTables`) offers the same methods
for asyncio code, on the `AsyncStore`'s worker thread.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.core.store.checks import aware, choice, refused
from callcenter.core.store.models import (
    AgentRow,
    AgentStateChangeRow,
    CallbackRow,
    QueueEntryRow,
)
from callcenter.core.store.records import (
    AGENT_MODES,
    AGENT_STATES,
    CALLBACK_REASONS,
    CALLBACK_STATUSES,
    QUEUE_LIMITS,
    QUEUE_OUTCOMES,
    AgentInput,
    AgentRecord,
    AgentStateRecord,
    CallbackRecord,
    QueueEntryRecord,
)

if TYPE_CHECKING:
    from callcenter.core.store.async_store import AsyncStore
    from callcenter.core.store.store import Store

class AcdTables:
    """The ACD's rows of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Agents ---------------------------------------------------------------

    def sync_agents(self, agents: Iterable[AgentInput], at: datetime) -> None:
        """Write the configured agents; agents not among them become inactive.

        New agents start logged out; an existing agent keeps their state.
        """
        aware(at, "at")
        agents = list(agents)
        ids = [a.id for a in agents]
        if len(set(ids)) != len(ids):
            raise refused("an agent id is given twice")
        for agent in agents:
            choice(agent.mode, AGENT_MODES, "agent mode")
        with self._store._unit("write the agents", write=True) as s:
            for agent in agents:
                s.execute(self._upsert_agent(agent, at))
            stale = update(AgentRow).where(AgentRow.active.is_(True))
            if ids:
                stale = stale.where(AgentRow.id.not_in(ids))
            s.execute(stale.values(active=False, updated_at=at))

    def _upsert_agent(self, agent: AgentInput, at: datetime) -> Any:
        # One statement, so that nodes starting together cannot collide.
        config = {"name": agent.name, "pin_hash": agent.pin_hash, "mode": agent.mode,
                  "phone": agent.phone, "skills": dict(agent.skills), "active": True,
                  "updated_at": at}
        values = {"id": agent.id, **config, "state": "logged_out", "state_since": at}
        dialect = sqlite_insert if self._store._sqlite else postgresql_insert
        stmt = dialect(AgentRow).values(values)
        return stmt.on_conflict_do_update(index_elements=[AgentRow.id],
                                          set_={k: stmt.excluded[k] for k in config})

    def agents(self, *, include_inactive: bool = False) -> list[AgentRecord]:
        """The agents by id; only active ones unless `include_inactive`."""
        query = select(AgentRow).order_by(AgentRow.id)
        if not include_inactive:
            query = query.where(AgentRow.active.is_(True))
        with self._store._unit("read the agents") as s:
            return [AgentRecord.from_row(r) for r in s.scalars(query)]

    def agent(self, agent_id: str) -> AgentRecord | None:
        """One agent (active or not), or None."""
        with self._store._unit(f"read agent {agent_id}") as s:
            row = s.get(AgentRow, agent_id)
            return None if row is None else AgentRecord.from_row(row)

    def record_state(self, agent_id: str, state: str, at: datetime, *,
                     reason: str | None = None, call_id: str | None = None,
                     node: str | None = None) -> None:
        """Append a state change and make it the agent's current state."""
        state = choice(state, AGENT_STATES, "agent state")
        aware(at, "at")
        with self._store._unit(f"record the state of agent {agent_id}", write=True) as s:
            row = s.get(AgentRow, agent_id, with_for_update=True)
            if row is None:
                raise refused(f"unknown agent {agent_id!r}: no such agent in the store")
            s.add(AgentStateChangeRow(agent_id=agent_id, state=state, reason=reason, at=at,
                                      call_id=call_id, node=node))
            row.state, row.state_reason, row.state_since, row.state_node = (
                state, reason, at, node)

    def state_changes(self, agent_id: str | None = None, *, since: datetime | None = None,
                      until: datetime | None = None,
                      limit: int = 1000) -> list[AgentStateRecord]:
        """State changes (of one agent, or all) in [since, until), oldest first."""
        query = select(AgentStateChangeRow)
        if agent_id is not None:
            query = query.where(AgentStateChangeRow.agent_id == agent_id)
        if since is not None:
            query = query.where(AgentStateChangeRow.at >= aware(since, "since"))
        if until is not None:
            query = query.where(AgentStateChangeRow.at < aware(until, "until"))
        query = query.order_by(AgentStateChangeRow.at, AgentStateChangeRow.id)
        with self._store._unit("read agent state changes") as s:
            return [AgentStateRecord.from_row(r) for r in s.scalars(query.limit(_limit(limit)))]

    # Queue entries --------------------------------------------------------

    def open_entry(self, call_id: str, queue: str, priority: int, entered_at: datetime, *,
                   caller: str | None = None, node: str | None = None) -> int:
        """Note a caller joining `queue`; returns the entry's id for `close_entry`."""
        aware(entered_at, "entered_at")
        with self._store._unit(f"open the queue entry of call {call_id}", write=True) as s:
            row = QueueEntryRow(call_id=call_id, queue=queue, priority=priority, caller=caller,
                                node=node, entered_at=entered_at)
            s.add(row)
            s.flush()
            return row.id

    def close_entry(self, entry_id: int, left_at: datetime, outcome: str, *,
                    agent_id: str | None = None,
                    limit: str | None = None) -> QueueEntryRecord:
        """Note how and when the caller left; the wait is counted from `entered_at`.

        An entry closes once; closing it again is refused.
        """
        outcome = choice(outcome, QUEUE_OUTCOMES, "queue outcome")
        if limit is not None:
            limit = choice(limit, QUEUE_LIMITS, "queue limit")
        aware(left_at, "left_at")
        with self._store._unit(f"close queue entry {entry_id}", write=True) as s:
            row = s.get(QueueEntryRow, entry_id, with_for_update=True)
            if row is None:
                raise refused(f"unknown queue entry {entry_id}")
            if row.left_at is not None:
                raise refused(f"queue entry {entry_id} is already closed ({row.outcome})")
            row.left_at, row.outcome, row.limit_hit, row.agent_id = (
                left_at, outcome, limit, agent_id)
            row.wait_s = max(0.0, (left_at - row.entered_at).total_seconds())
            s.flush()
            return QueueEntryRecord.from_row(row)

    def set_handle_time(self, entry_id: int, handle_s: float) -> None:
        """Note the talk plus wrap-up seconds of an answered entry (for wait estimates)."""
        if handle_s < 0:
            raise refused(f"a handle time cannot be negative, got {handle_s}")
        with self._store._unit(f"set the handle time of queue entry {entry_id}",
                               write=True) as s:
            row = s.get(QueueEntryRow, entry_id)
            if row is None:
                raise refused(f"unknown queue entry {entry_id}")
            row.handle_s = float(handle_s)

    def entry(self, entry_id: int) -> QueueEntryRecord | None:
        """One queue entry, or None."""
        with self._store._unit(f"read queue entry {entry_id}") as s:
            row = s.get(QueueEntryRow, entry_id)
            return None if row is None else QueueEntryRecord.from_row(row)

    def entries(self, *, queue: str | None = None, since: datetime | None = None,
                until: datetime | None = None, limit: int = 100) -> list[QueueEntryRecord]:
        """Entries (of one queue, or all) that began in [since, until), newest first."""
        query = select(QueueEntryRow)
        if queue is not None:
            query = query.where(QueueEntryRow.queue == queue)
        if since is not None:
            query = query.where(QueueEntryRow.entered_at >= aware(since, "since"))
        if until is not None:
            query = query.where(QueueEntryRow.entered_at < aware(until, "until"))
        query = query.order_by(QueueEntryRow.entered_at.desc(), QueueEntryRow.id.desc())
        with self._store._unit("read queue entries") as s:
            return [QueueEntryRecord.from_row(r) for r in s.scalars(query.limit(_limit(limit)))]

    def open_entries(self, *, node: str | None = None) -> list[QueueEntryRecord]:
        """Entries never closed (of one node, or all), oldest first: crash leftovers."""
        query = select(QueueEntryRow).where(QueueEntryRow.left_at.is_(None))
        if node is not None:
            query = query.where(QueueEntryRow.node == node)
        query = query.order_by(QueueEntryRow.entered_at, QueueEntryRow.id)
        with self._store._unit("read open queue entries") as s:
            return [QueueEntryRecord.from_row(r) for r in s.scalars(query)]

    def recent_handle_times(self, queue: str, limit: int = 20) -> list[float]:
        """The last `limit` handle times of `queue`, oldest first (to seed an estimate)."""
        query = (select(QueueEntryRow.handle_s)
                 .where(QueueEntryRow.queue == queue, QueueEntryRow.handle_s.is_not(None))
                 .order_by(QueueEntryRow.left_at.desc(), QueueEntryRow.id.desc())
                 .limit(_limit(limit)))
        with self._store._unit(f"read the handle times of queue {queue}") as s:
            return [float(v) for v in reversed(list(s.scalars(query))) if v is not None]

    # Callbacks ------------------------------------------------------------

    def add_callback(self, number: str, queue: str, reason: str, requested_at: datetime, *,
                     call_id: str | None = None) -> int:
        """Store a pending callback request; returns its id."""
        reason = choice(reason, CALLBACK_REASONS, "callback reason")
        aware(requested_at, "requested_at")
        if not number:
            raise refused("a callback needs a number")
        with self._store._unit(f"store a callback for {number}", write=True) as s:
            row = CallbackRow(number=number, queue=queue, reason=reason,
                              requested_at=requested_at, call_id=call_id, status="pending",
                              status_at=requested_at, attempts=0)
            s.add(row)
            s.flush()
            return row.id

    def callbacks(self, *, status: str | None = "pending", queue: str | None = None,
                  limit: int = 100) -> list[CallbackRecord]:
        """Callbacks with `status` (None: any), of one queue or all, oldest first."""
        query = _callback_query(status, queue)
        with self._store._unit("read callbacks") as s:
            return [CallbackRecord.from_row(r) for r in s.scalars(query.limit(_limit(limit)))]

    def claim_callback(self, at: datetime, *, node: str,
                       queue: str | None = None) -> CallbackRecord | None:
        """Take the oldest pending callback for `node` to dial (status ``dialing``).

        Nodes claiming together each get a different one; None when none is pending.
        """
        aware(at, "at")
        query = _callback_query("pending", queue).limit(1).with_for_update(skip_locked=True)
        with self._store._unit("claim a callback", write=True) as s:
            row = s.scalar(query)
            if row is None:
                return None
            row.status, row.status_at, row.node = "dialing", at, node
            row.attempts += 1
            s.flush()
            return CallbackRecord.from_row(row)

    def set_callback_status(self, callback_id: int, status: str, at: datetime) -> None:
        """Move a callback on: done, failed, cancelled, or back to pending for a retry."""
        status = choice(status, CALLBACK_STATUSES, "callback status")
        aware(at, "at")
        with self._store._unit(f"update callback {callback_id}", write=True) as s:
            row = s.get(CallbackRow, callback_id)
            if row is None:
                raise refused(f"unknown callback {callback_id}")
            row.status, row.status_at = status, at


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def _callback_query(status: str | None, queue: str | None) -> Select[CallbackRow]:
    query = select(CallbackRow)
    if status is not None:
        query = query.where(CallbackRow.status == choice(status, CALLBACK_STATUSES,
                                                          "callback status"))
    if queue is not None:
        query = query.where(CallbackRow.queue == queue)
    return query.order_by(CallbackRow.requested_at, CallbackRow.id)


class AsyncAcdTables:
    """`AcdTables` for asyncio code, run on the `AsyncStore`'s one worker thread."""

    def __init__(self, store: AsyncStore) -> None:
        self._async = store
        self._tables = store.store.acd

    async def sync_agents(self, agents: Sequence[AgentInput], at: datetime) -> None:
        """See `AcdTables.sync_agents`."""
        await self._async._run(self._tables.sync_agents, agents, at)

    async def agents(self, *, include_inactive: bool = False) -> list[AgentRecord]:
        """See `AcdTables.agents`."""
        return await self._async._run(
            functools.partial(self._tables.agents, include_inactive=include_inactive))

    async def agent(self, agent_id: str) -> AgentRecord | None:
        """See `AcdTables.agent`."""
        return await self._async._run(self._tables.agent, agent_id)

    async def record_state(self, agent_id: str, state: str, at: datetime, *,
                           reason: str | None = None, call_id: str | None = None,
                           node: str | None = None) -> None:
        """See `AcdTables.record_state`."""
        await self._async._run(functools.partial(
            self._tables.record_state, agent_id, state, at, reason=reason, call_id=call_id,
            node=node))

    async def state_changes(self, agent_id: str | None = None, *,
                            since: datetime | None = None, until: datetime | None = None,
                            limit: int = 1000) -> list[AgentStateRecord]:
        """See `AcdTables.state_changes`."""
        return await self._async._run(functools.partial(
            self._tables.state_changes, agent_id, since=since, until=until, limit=limit))

    async def open_entry(self, call_id: str, queue: str, priority: int, entered_at: datetime,
                         *, caller: str | None = None, node: str | None = None) -> int:
        """See `AcdTables.open_entry`."""
        return await self._async._run(functools.partial(
            self._tables.open_entry, call_id, queue, priority, entered_at, caller=caller,
            node=node))

    async def close_entry(self, entry_id: int, left_at: datetime, outcome: str, *,
                          agent_id: str | None = None,
                          limit: str | None = None) -> QueueEntryRecord:
        """See `AcdTables.close_entry`."""
        return await self._async._run(functools.partial(
            self._tables.close_entry, entry_id, left_at, outcome, agent_id=agent_id,
            limit=limit))

    async def set_handle_time(self, entry_id: int, handle_s: float) -> None:
        """See `AcdTables.set_handle_time`."""
        await self._async._run(self._tables.set_handle_time, entry_id, handle_s)

    async def entry(self, entry_id: int) -> QueueEntryRecord | None:
        """See `AcdTables.entry`."""
        return await self._async._run(self._tables.entry, entry_id)

    async def entries(self, *, queue: str | None = None, since: datetime | None = None,
                      until: datetime | None = None,
                      limit: int = 100) -> list[QueueEntryRecord]:
        """See `AcdTables.entries`."""
        return await self._async._run(functools.partial(
            self._tables.entries, queue=queue, since=since, until=until, limit=limit))

    async def open_entries(self, *, node: str | None = None) -> list[QueueEntryRecord]:
        """See `AcdTables.open_entries`."""
        return await self._async._run(functools.partial(self._tables.open_entries, node=node))

    async def recent_handle_times(self, queue: str, limit: int = 20) -> list[float]:
        """See `AcdTables.recent_handle_times`."""
        return await self._async._run(self._tables.recent_handle_times, queue, limit)

    async def add_callback(self, number: str, queue: str, reason: str,
                           requested_at: datetime, *, call_id: str | None = None) -> int:
        """See `AcdTables.add_callback`."""
        return await self._async._run(functools.partial(
            self._tables.add_callback, number, queue, reason, requested_at, call_id=call_id))

    async def callbacks(self, *, status: str | None = "pending", queue: str | None = None,
                        limit: int = 100) -> list[CallbackRecord]:
        """See `AcdTables.callbacks`."""
        return await self._async._run(functools.partial(
            self._tables.callbacks, status=status, queue=queue, limit=limit))

    async def claim_callback(self, at: datetime, *, node: str,
                             queue: str | None = None) -> CallbackRecord | None:
        """See `AcdTables.claim_callback`."""
        return await self._async._run(functools.partial(
            self._tables.claim_callback, at, node=node, queue=queue))

    async def set_callback_status(self, callback_id: int, status: str, at: datetime) -> None:
        """See `AcdTables.set_callback_status`."""
        await self._async._run(self._tables.set_callback_status, callback_id, status, at)
