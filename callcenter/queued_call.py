"""One caller's stay in a queue of the human queue, on the engine's event loop.

    result = await QueuedCall(acd, call, spec, escalated=False).run()

A caller the dialog escalated joins ahead (the queue's ``escalation_boost``,
or the flow's own ``priority_boost``), with its :class:`callcenter.handoff.Handoff`:
the agent it is offered to gets the offer event and a whisper saying why
(:meth:`QueuedCall.offer_to`).

The caller joins the queue (or is turned away when it is full), hears the
queue's hold audio looped in the bridge and, every ``announce_every_s``, their
position and expected wait (spoken only when the node has a voice). Routing
(:class:`callcenter.acd_service.AcdService`) offers the caller to an agent
session, which whispers to the agent, stops the hold audio, plays both a tone
and bridges them (:meth:`callcenter.agent_session.AgentSession.take`); the
caller then stays on the engine until the talk ends. Every way out is a
:class:`QueueResult` and a closed ``queue_entries`` row:

- the caller hangs up while waiting: ``abandoned``, with the wait;
- an agent takes the call: ``answered``; when the talk ends the caller is
  gone (``DONE``), or the agent ended it and the queue's ``after_agent`` says
  whether the caller goes back to the flow (``RETURNED``) or is hung up;
- max wait: the queue's ``at_limit`` (goodbye, transfer, callback offer,
  voicemail: :mod:`callcenter.queue_limits`);
- the queue's ``callback_key`` pressed while waiting: a callback request;
- a full queue turns the caller away before they wait (``at_limit`` again).

While waiting, the caller's keys are the queue's (the conversation stops
reading them and the caller's audio until the queue is done).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from acd.announcements import announcement_text, next_announcement
from acd.queue_model import QueueExit
from acd.queues_config import AfterAgent, QueueSpec
from callcenter.core.errors import CallFailed, CallGone, MediaError, StoreError
from callcenter.handoff import Handoff, offer_event
from callcenter.queue_limits import at_max_wait, callback_requested, turned_away
from callcenter.queue_results import QueueResult
from dialog.ports import user_part
from sip.call import SipCall

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)


__all__ = ["Phase", "QueueResult", "QueuedCall", "TalkEnd"]


class Phase(enum.StrEnum):
    """Where a queued caller is."""

    WAITING = "waiting"
    CONNECTING = "connecting"  # offered: the agent hears the whisper
    TALKING = "talking"
    OVER = "over"


class TalkEnd(enum.StrEnum):
    """Who ended a talk."""

    CALLER = "caller"
    AGENT = "agent"


class QueuedCall:
    """A caller in a queue; `run` once. The agent side moves `phase` on."""

    def __init__(self, acd: AcdService, call: SipCall, spec: QueueSpec, *,
                 escalated: bool = False, handoff: Handoff | None = None) -> None:
        """`call` answered and in a dialog; `spec` the queue it joins; `handoff`
        why the dialog sends the caller, for the agent."""
        assert call.media is not None, "the call must be answered"
        self.acd = acd
        self.call = call
        self.spec = spec
        self.escalated = escalated
        self.number = user_part(call.info.from_uri)
        self.handoff = handoff or Handoff(self.number)
        self.phase = Phase.WAITING
        self.entry_id: int | None = None
        self.entered_at: datetime | None = None
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[None] = loop.create_future()
        self.talk_over: asyncio.Future[TalkEnd] = loop.create_future()
        self._next_announcement: datetime | None = None
        self._announcing: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        """The caller's call id (the queue's key)."""
        return self.call.id

    @property
    def rate(self) -> int:
        """The caller's audio rate."""
        assert self.call.media is not None
        return self.call.media.clock_rate

    @property
    def queue(self) -> str:
        """The queue's name."""
        return self.spec.name

    async def run(self) -> QueueResult:
        """Wait in the queue until an agent talked to the caller, or they left."""
        queue = self.acd.queues[self.queue]
        now = self.acd.clock()
        priority = self.priority
        if queue.join(self.id, now, priority=priority, number=self.number or None) is None:
            self.phase = Phase.OVER
            return await turned_away(self, now, priority)
        self.entered_at = now
        self._next_announcement = next_announcement(now, now, self.spec.announce_every_s)
        self.acd.waiting[self.id] = self
        try:
            try:
                self.entry_id = await self.acd.store.acd.open_entry(
                    self.id, self.queue, priority, now, caller=self.number or None,
                    node=self.acd.node_name)
            except StoreError as exc:
                log.error("call %s: queue entry not stored: %s", self.id[:8], exc)
            self.acd.call_event(self.call, "queue", {
                "queue": self.queue, "action": "joined", "priority": priority,
                "position": queue.position(self.id) if self.id in queue else None,
                "reason": self.handoff.reason})
            if self.phase is Phase.WAITING:
                await self.hold_on()
                if self.id in queue:
                    self.acd.prepare_whisper(self.handoff.whisper(self.queue),
                                             queue.position(self.id))
            self.acd.route()
            return await self._wait()
        finally:
            self.phase = Phase.OVER
            self.acd.waiting.pop(self.id, None)
            if self._announcing is not None:
                self._announcing.cancel()
            if self.id in queue:  # cancelled (engine.max_call_s, shutdown): the call ends
                self.close(queue.abandoned(self.id, self.acd.clock()))

    @property
    def priority(self) -> int:
        """The caller's priority in the queue: raised when escalated."""
        boost = self.handoff.priority_boost
        if self.escalated and boost is not None:
            return self.spec.priority + boost
        return self.spec.entry_priority(self.escalated)

    def offer_to(self, agent_id: str) -> str:
        """Routing offers the caller to `agent_id`: the offer is published
        (topic ``agents/<id>/offer``) and stored as a call event; returns
        the whisper the agent should hear first."""
        whisper = self.handoff.whisper(self.queue)
        event = offer_event(self.handoff, agent_id=agent_id, queue=self.queue,
                            call_id=self.id, node=self.acd.node_name, whisper=whisper)
        store, bus = self.acd.store, self.acd.journal.bus
        self.acd.journal.submit(lambda: store.add_event(self.id, "offer", event.data, event.at))
        self.acd.journal.submit(lambda: bus.publish(event))
        return whisper

    async def _wait(self) -> QueueResult:
        keys: asyncio.Future[str] = asyncio.ensure_future(self.call.dtmf.get())
        try:
            while True:
                result, keys = await self._news(keys)
                if result is not None:
                    return result
        finally:
            keys.cancel()

    async def _news(self, keys: asyncio.Future[str]
                    ) -> tuple[QueueResult | None, asyncio.Future[str]]:
        """One wait for news: (the result when the stay is over, the key reader)."""
        if self.connected.done():
            keys.cancel()  # keys during the talk are not the queue's
            return await self._talk(), keys
        if self.call.ended.done():
            return self._leave_abandoned(), keys
        wake = self._next_wake()
        timeout = None if wake is None else max(
            0.0, (wake - self.acd.clock()).total_seconds())
        news: list[asyncio.Future[Any]] = [self.call.ended, self.connected, keys]
        await asyncio.wait(news, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self.connected.done() or self.call.ended.done():
            return None, keys
        now = self.acd.clock()
        if keys.done():
            key = keys.result()
            keys = asyncio.ensure_future(self.call.dtmf.get())
            if self._wants_callback(key):
                self.phase = Phase.OVER
                keys.cancel()
                return await callback_requested(self, now), keys
        deadline = self._deadline()
        if deadline is not None and now >= deadline and self.phase is Phase.WAITING:
            self.phase = Phase.OVER
            keys.cancel()
            return await at_max_wait(self, now), keys
        if self._next_announcement is not None and now >= self._next_announcement:
            assert self.entered_at is not None
            self._next_announcement = next_announcement(self.entered_at, now,
                                                        self.spec.announce_every_s)
            if self.phase is Phase.WAITING and self._announcing is None:
                self._announcing = asyncio.get_running_loop().create_task(
                    self._announce(), name=f"announce-{self.id[:8]}")
        return None, keys

    def _wants_callback(self, key: str) -> bool:
        """The queue's callback key, pressed while waiting (not while being connected)."""
        if key != self.spec.callback_key:
            return False
        if self.phase is not Phase.WAITING or not self.number:
            log.info("call %s: callback key ignored (%s%s)", self.id[:8], self.phase.value,
                     "" if self.number else ", no number")
            return False
        return True

    def _deadline(self) -> datetime | None:
        queue = self.acd.queues[self.queue]
        return queue.deadline(self.id) if self.id in queue else None

    def _next_wake(self) -> datetime | None:
        times = [t for t in (self._deadline(), self._next_announcement) if t is not None]
        if self.phase is not Phase.WAITING and times:
            # Offered: the deadline waits for the offer's outcome; look again soon.
            return min([*times, self.acd.clock() + timedelta(seconds=1)])
        return min(times) if times else None

    async def _talk(self) -> QueueResult:
        end = await self.talk_over
        if end is TalkEnd.CALLER or self.call.ended.done():
            return QueueResult.DONE
        if self.spec.after_agent is AfterAgent.FLOW:
            return QueueResult.RETURNED
        return QueueResult.DONE

    # -- leaving -------------------------------------------------------------------------
    def close(self, exit_: QueueExit) -> None:
        """Store how the caller left (and tell the call's events)."""
        entry = self.entry_id
        if entry is not None:
            self.acd.journal.submit(lambda: self.acd.store.acd.close_entry(
                entry, exit_.left_at, exit_.outcome.value, agent_id=exit_.agent_id,
                limit=exit_.limit.value if exit_.limit else None))
        self.acd.call_event(self.call, "queue", {
            "queue": self.queue, "action": "left", "outcome": exit_.outcome.value,
            "wait_s": round(exit_.wait_s, 2), "agent": exit_.agent_id,
            "limit": exit_.limit.value if exit_.limit else None})
        log.info("call %s: left queue %s: %s after %.1f s%s", self.id[:8], self.queue,
                 exit_.outcome.value, exit_.wait_s,
                 f" (agent {exit_.agent_id})" if exit_.agent_id else "")

    def _leave_abandoned(self) -> QueueResult:
        self.close(self.acd.queues[self.queue].abandoned(self.id, self.acd.clock()))
        return QueueResult.ABANDONED

    # -- what the caller hears --------------------------------------------------------------
    async def hold_on(self) -> None:
        """Loop the queue's hold audio to the caller (mixed in the bridge)."""
        if self.call.ended.done():
            return
        with contextlib.suppress(CallFailed, CallGone, MediaError):
            await self.acd.node.play_loop(self.call, self.acd.hold_wav(self.queue))

    async def hold_off(self) -> None:
        """Stop the hold audio and anything being announced."""
        self.call.stop_audio()
        with contextlib.suppress(CallFailed, CallGone):
            await self.acd.node.stop_loops(self.call)

    async def _announce(self) -> None:
        """Say the caller's position and expected wait, hold audio paused meanwhile."""
        try:
            queue = self.acd.queues[self.queue]
            if self.id not in queue or self.acd.voice is None:
                return
            position = queue.position(self.id)
            text = announcement_text(
                position if self.spec.announce_position else None,
                self.acd.expected_wait(self.spec, position) if self.spec.announce_wait
                else None)
            if not text or self.phase is not Phase.WAITING:
                return
            with contextlib.suppress(CallFailed, CallGone):
                await self.acd.node.stop_loops(self.call)
            await self.acd.say(self.call, text, state=f"queue:{self.queue}",
                               still=lambda: self.phase is Phase.WAITING)
            if self.phase is Phase.WAITING:
                await self.hold_on()
        except MediaError as exc:
            log.warning("call %s: announcement failed: %s", self.id[:8], exc)
        finally:
            self._announcing = None
