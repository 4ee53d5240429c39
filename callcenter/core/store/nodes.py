"""The registry of nodes sharing a store: unique names and heartbeats.

A node claims its name at start (:meth:`NodeTable.claim`): refused while a
live node holds it. Whether a holder is gone is the caller's judgement
(``is_gone``: a stale heartbeat, a clean stop, or on the same host a pid
that no longer runs), made inside the claiming transaction so two nodes
starting together cannot both win. The holder then beats
(:meth:`NodeTable.heartbeat`) and marks its clean stop
(:meth:`NodeTable.stopped`); a beat that finds the row taken over by
another start returns False.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from callcenter.core.store.models import NodeRow

if TYPE_CHECKING:
    from callcenter.core.store.store import Store


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node as registered: times are timezone-aware UTC."""

    name: str
    host: str
    sip_port: int | None
    pid: int
    instance: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None

    @classmethod
    def from_row(cls, row: NodeRow) -> NodeRecord:
        return cls(name=row.name, host=row.host, sip_port=row.sip_port, pid=row.pid,
                   instance=row.instance, started_at=row.started_at,
                   heartbeat_at=row.heartbeat_at, stopped_at=row.stopped_at)


IsGone = Callable[[NodeRecord], bool]


class NodeTable:
    """Node rows of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, node: NodeRecord, is_gone: IsGone) -> NodeRecord | None:
        """Register `node` under its name. Returns None when it now holds
        the name, or the record of the live node holding it (unchanged)."""
        with self._store._unit(f"claim the node name {node.name!r}", write=True) as s:
            row = s.get(NodeRow, node.name, with_for_update=True)
            if row is None:
                s.add(NodeRow(name=node.name, host=node.host, sip_port=node.sip_port,
                              pid=node.pid, instance=node.instance, started_at=node.started_at,
                              heartbeat_at=node.heartbeat_at, stopped_at=None))
                return None
            holder = NodeRecord.from_row(row)
            if holder.stopped_at is None and not is_gone(holder):
                return holder
            row.host, row.sip_port, row.pid = node.host, node.sip_port, node.pid
            row.instance, row.started_at = node.instance, node.started_at
            row.heartbeat_at, row.stopped_at = node.heartbeat_at, None
            return None

    def heartbeat(self, name: str, instance: str, at: datetime) -> bool:
        """Note that node `name` (this `instance` of it) is alive at `at`.
        False if another start has taken the name over."""
        query = (update(NodeRow).where(NodeRow.name == name, NodeRow.instance == instance)
                 .values(heartbeat_at=at))
        with self._store._unit(f"write the heartbeat of node {name!r}", write=True) as s:
            return bool(s.execute(query).rowcount)  # type: ignore[attr-defined]

    def stopped(self, name: str, instance: str, at: datetime) -> None:
        """Mark a clean stop: the name is free at once."""
        query = (update(NodeRow).where(NodeRow.name == name, NodeRow.instance == instance)
                 .values(stopped_at=at))
        with self._store._unit(f"mark node {name!r} stopped", write=True) as s:
            s.execute(query)

    def get(self, name: str) -> NodeRecord | None:
        with self._store._unit(f"read node {name!r}") as s:
            row = s.get(NodeRow, name)
            return None if row is None else NodeRecord.from_row(row)

    def all(self) -> list[NodeRecord]:
        """Every registered node, by name."""
        with self._store._unit("read the nodes") as s:
            return [NodeRecord.from_row(r) for r in s.scalars(select(NodeRow).order_by(
                NodeRow.name))]

    def retire_gone(self, host: str, is_gone: IsGone, at: datetime) -> list[NodeRecord]:
        """Nodes on `host` that died without a clean stop, marked stopped
        now (so only one starting node recovers their calls); returned as
        they were."""
        query = select(NodeRow).where(NodeRow.host == host, NodeRow.stopped_at.is_(None))
        retired: list[NodeRecord] = []
        with self._store._unit(f"retire gone nodes of host {host!r}", write=True) as s:
            for row in s.scalars(query.with_for_update()):
                record = NodeRecord.from_row(row)
                if is_gone(record):
                    row.stopped_at = at
                    retired.append(record)
        return retired
