"""Writes every call's lifecycle to the store and publishes it as events.

The SIP layer reports news synchronously on the event loop
(:meth:`CallJournal.on_call_event`); the journal queues it and one task
writes it in order, so a slow disk or an absent broker never delays a call,
and the CDR of a call is always written in the order things happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from callcenter.core.call import CallInfo, EndReason, utcnow
from callcenter.core.errors import StoreError
from callcenter.core.events import Event, EventBus
from callcenter.core.store import AsyncStore, TurnInput
from sip.call import SipCall

log = logging.getLogger(__name__)

_STATE_KINDS = {"offered": "ringing", "dialing": "ringing", "answered": "answered",
                "hold": "on_hold", "unhold": "answered", "ended": "ended"}


class CallJournal:
    """Ordered writer of CDRs, call events and published lifecycle events."""

    def __init__(self, store: AsyncStore, bus: EventBus, node: str) -> None:
        self.store = store
        self.bus = bus
        self.node = node
        self._queue: asyncio.Queue[Callable[[], Any] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.ended_listeners: list[Callable[[SipCall], None]] = []

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None

    def submit(self, job: Callable[[], Any]) -> None:
        """Queue a coroutine function to run after everything queued before it."""
        self._queue.put_nowait(job)

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        """A call's news, from the SIP layer (event loop, must not block)."""
        at = utcnow()
        info = call.info
        if kind in ("offered", "dialing"):
            snapshot = CallInfo(call_id=info.call_id, direction=info.direction,
                                from_uri=info.from_uri, to_uri=info.to_uri,
                                sip_call_id=info.sip_call_id, started_at=info.started_at)
            self.submit(lambda: self.store.call_started(snapshot, self.node))
        elif kind == "answered":
            codec = call.media.codec if call.media else None
            self.submit(lambda: self.store.call_answered(call.id, at, codec))
        elif kind == "ended":
            reason = EndReason(data["reason"])
            code = data.get("sip_code")
            self.submit(lambda: self.store.call_ended(call.id, at, reason, code))
            for listener in self.ended_listeners:
                listener(call)
        if kind not in ("offered", "dialing", "answered", "ended"):
            self.submit(lambda: self.store.add_event(call.id, kind, data, at))
        payload = dict(data)
        if kind in _STATE_KINDS:
            payload.update(state=_STATE_KINDS[kind], direction=str(info.direction),
                           **{"from": info.from_uri, "to": info.to_uri})
            event = Event(kind="state", data=payload, call_id=call.id, node=self.node, at=at)
        else:
            event = Event(kind=kind, data=payload, call_id=call.id, node=self.node, at=at)
        self.submit(lambda: self.bus.publish(event))

    def turn(self, call: SipCall, *, speaker: str, text: str, state: str | None,
             started_at: datetime, ended_at: datetime | None, intent: str | None,
             confidence: float | None, data: dict[str, Any]) -> None:
        """A turn of the conversation: into the transcript, and published."""
        turn = TurnInput(speaker=speaker, text=text, started_at=started_at, ended_at=ended_at,
                         confidence=confidence, intent=intent, state=state, data=data)
        self.submit(lambda: self.store.add_turn(call.id, turn))
        event = Event(kind="turn", call_id=call.id, node=self.node, at=started_at, data={
            "speaker": speaker, "text": text, "state": state, "intent": intent,
            "confidence": confidence})
        self.submit(lambda: self.bus.publish(event))

    def watched(self, call: SipCall, kind: str) -> bool:
        """Whether a :meth:`live` event of `kind` for `call` may reach anyone."""
        return self.bus.watched(Event(kind=kind, call_id=call.id, data={}).topic)

    def live(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        """Publish news that is not kept (a partial transcript, say): only
        subscribers that are listening now see it."""
        event = Event(kind=kind, call_id=call.id, node=self.node, at=utcnow(), data=data)
        self.submit(lambda: self.bus.publish(event))

    async def _drain(self) -> None:
        while (job := await self._queue.get()) is not None:
            try:
                await job()
            except StoreError as exc:
                log.error("store write failed: %s", exc)
            except Exception:
                log.exception("call journal job failed")
