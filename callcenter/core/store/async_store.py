"""`AsyncStore`: a `Store` for asyncio code, on one dedicated thread, so
SQLite writes are serialized and the event loop never blocks on the database."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar, TypeVarTuple

from callcenter.core.call import CallInfo, EndReason
from callcenter.core.store.acd_tables import AsyncAcdTables
from callcenter.core.store.campaign_tables import AsyncCampaignTables
from callcenter.core.store.records import CallRecord, EventRecord, TurnInput, TurnRecord
from callcenter.core.store.store import Store
from callcenter.core.store.supervision_audit import AsyncSupervisionAudit
from callcenter.core.store.voicemails import AsyncVoicemails

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class AsyncStore:
    """A `Store` for asyncio code: each method runs on one dedicated worker thread.

    One thread means writes never contend with each other and the event loop
    never waits on the database. Owns the wrapped store: `close()` closes it.
    """

    def __init__(self, store: Store) -> None:
        """Wrap `store`; the worker thread starts with the first call."""
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def _run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def migrate(self) -> None:
        """See `Store.migrate`."""
        await self._run(self.store.migrate)

    async def call_started(self, info: CallInfo, node: str) -> None:
        """See `Store.call_started`."""
        await self._run(self.store.call_started, info, node)

    async def call_answered(self, call_id: str, at: datetime, codec: str | None) -> None:
        """See `Store.call_answered`."""
        await self._run(self.store.call_answered, call_id, at, codec)

    async def call_ended(
        self, call_id: str, at: datetime, reason: EndReason, sip_code: int | None
    ) -> None:
        """See `Store.call_ended`."""
        await self._run(self.store.call_ended, call_id, at, reason, sip_code)

    async def recording_started(self, call_id: str, path: str) -> None:
        """See `Store.recording_started`."""
        await self._run(self.store.recording_started, call_id, path)

    async def recording_finished(
        self, call_id: str, path: str, sha256: str, seconds: float, complete: bool
    ) -> None:
        """See `Store.recording_finished`."""
        await self._run(self.store.recording_finished, call_id, path, sha256, seconds, complete)

    async def add_event(self, call_id: str, kind: str, data: dict[str, Any], at: datetime) -> None:
        """See `Store.add_event`."""
        await self._run(self.store.add_event, call_id, kind, data, at)

    async def mark_incomplete(self, call_id: str, at: datetime) -> None:
        """See `Store.mark_incomplete`."""
        await self._run(self.store.mark_incomplete, call_id, at)

    async def get_call(self, call_id: str) -> CallRecord | None:
        """See `Store.get_call`."""
        return await self._run(self.store.get_call, call_id)

    async def recent_calls(self, limit: int = 20) -> list[CallRecord]:
        """See `Store.recent_calls`."""
        return await self._run(self.store.recent_calls, limit)

    async def events_for(self, call_id: str) -> list[EventRecord]:
        """See `Store.events_for`."""
        return await self._run(self.store.events_for, call_id)

    async def unfinished_calls(self, node: str) -> list[CallRecord]:
        """See `Store.unfinished_calls`."""
        return await self._run(self.store.unfinished_calls, node)

    async def find_calls(self, prefix: str, limit: int = 20) -> list[CallRecord]:
        """See `Store.find_calls`."""
        return await self._run(self.store.find_calls, prefix, limit)

    async def add_turn(self, call_id: str, turn: TurnInput) -> None:
        """See `Store.add_turn`."""
        await self._run(self.store.add_turn, call_id, turn)

    async def turns_for(self, call_id: str) -> list[TurnRecord]:
        """See `Store.turns_for`."""
        return await self._run(self.store.turns_for, call_id)

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """See `Store.get_record`."""
        return await self._run(self.store.get_record, kind, key)

    async def update_record(self, kind: str, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """See `Store.update_record`."""
        return await self._run(self.store.update_record, kind, key, fields)

    async def put_record(self, kind: str, key: str, data: Mapping[str, Any]) -> None:
        """See `Store.put_record`."""
        await self._run(self.store.put_record, kind, key, data)

    async def records(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """See `Store.records`."""
        return await self._run(self.store.records, kind)

    @property
    def acd(self) -> AsyncAcdTables:
        """`Store.acd` for asyncio code, on this store's worker thread."""
        return AsyncAcdTables(self)

    @property
    def campaigns(self) -> AsyncCampaignTables:
        """`Store.campaigns` for asyncio code, on this store's worker thread."""
        return AsyncCampaignTables(self)

    @property
    def supervision(self) -> AsyncSupervisionAudit:
        """`Store.supervision` for asyncio code, on this store's worker thread."""
        return AsyncSupervisionAudit(self)

    @property
    def voicemails(self) -> AsyncVoicemails:
        """`Store.voicemails` for asyncio code, on this store's worker thread."""
        return AsyncVoicemails(self)

    async def add_to_internal_dnc(self, number: str, *, source: str, actor: str,
                                  reason: str | None = None) -> bool:
        """See `DncLists.add` (an opt-out said during a call, say)."""
        return await self._run(functools.partial(self.store.dnc.add, number, source=source,
                                                 actor=actor, reason=reason))

    async def on_internal_dnc(self, number: str) -> bool:
        """See `DncLists.contains`."""
        return await self._run(self.store.dnc.contains, number)

    async def close(self) -> None:
        """Close the store on its thread, then stop the thread."""
        try:
            await self._run(self.store.close)
        finally:
            self._executor.shutdown(wait=False)
