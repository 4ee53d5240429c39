"""One agent's part in callers' calls, whatever phone they take them on.

    desk = acd.desks["1001"]                      # one per configured agent
    if await desk.connect(phone, caller, whisper="Caller from ...", tone_s=0.3):
        await desk.talk(phone, caller)            # until either side ends it

Shared by agent sessions (the agent's phone stays connected between calls,
:mod:`callcenter.agent_session`) and on-demand agents (the engine rings the
agent's phone for each caller, :mod:`callcenter.on_demand_agent`); `session`
says which, where the two differ.

- :meth:`AgentDesk.connect`: the agent (offered the caller) hears the
  whisper, which only they hear; the caller's hold audio stops; both hear
  the tone; they are bridged. If the caller left meanwhile, the offer is
  withdrawn (no miss). If the agent's phone is gone or the bridge failed,
  the caller waits on, offered to someone else first, and the agent missed
  the offer (a session whose phone is gone is logged out by the session).
- :meth:`AgentDesk.talk`: until the caller or the agent hangs up, or
  `end_call` is set; the caller's side learns who ended it
  (:class:`callcenter.queued_call.TalkEnd`). The agent then wraps up for
  the queue's ``wrap_up_s``: ready when the timer runs out or earlier
  (a session key, :meth:`callcenter.acd_service.AcdService.agent_ready`).
  The handle time (talk plus wrap-up) feeds the queue's wait estimates,
  noted when wrap-up ends whichever way (:meth:`AgentDesk.state_changed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from acd.agent_state import AgentState, AgentStatus, StateChange
from callcenter.acd_sounds import connect_tone
from callcenter.core.errors import CallFailed, CallGone, MediaError
from callcenter.queued_call import Phase, QueuedCall, TalkEnd
from sip.call import SipCall

# How much longer than the connect tone its playing may take before the
# connection is given up (the media path stalled): the caller is requeued.
TONE_SLACK_S = 3.0

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)


@dataclass
class _Handling:
    """A finished talk whose wrap-up is running: its handle time is not known yet."""

    queue: str
    entry_id: int | None
    talk_s: float
    wrap_up_from: datetime


class AgentDesk:
    """Connects, holds and wraps up one agent's calls; all methods on the event loop."""

    def __init__(self, acd: AcdService, status: AgentStatus) -> None:
        self.acd = acd
        self.status = status
        self._wrap_timer: asyncio.TimerHandle | None = None
        self._handling: _Handling | None = None

    @property
    def agent_id(self) -> str:
        return self.status.agent_id

    def _change(self, change: StateChange) -> None:
        self.acd.change(change)

    # -- connect ------------------------------------------------------------------------
    async def connect(self, phone: SipCall, caller: QueuedCall, *, whisper: str | None,
                      tone_s: float, voice: asyncio.Lock | None = None,
                      session: bool = True) -> bool:
        """Whisper to the agent on `phone`, tone to both, bridge; True when they talk.

        `voice` is held while whispering (a session's confirmations come first).
        False when either side left meanwhile or the bridge failed (see the module).
        """
        acd, status = self.acd, self.status

        def gone() -> bool:
            return caller.call.ended.done() or phone.ended.done()

        bridged = False
        try:
            if whisper:
                async with voice or asyncio.Lock():
                    await acd.say(phone, whisper, state="whisper", still=lambda: not gone())
            if not gone():
                await caller.hold_off()
                if tone_s > 0:
                    async with asyncio.timeout(tone_s + TONE_SLACK_S):
                        await asyncio.gather(
                            phone.play(connect_tone(_rate(phone), tone_s)),
                            caller.call.play(connect_tone(caller.rate, tone_s)))
                        # Heard to its end before the other side is: the bridge comes after.
                        await asyncio.gather(phone.played_out(), caller.call.played_out())
            if not gone():
                await acd.node.bridge(caller.call, phone)
                bridged = True
        except (CallGone, CallFailed, MediaError) as exc:
            log.info("agent %s: connecting call %s failed: %s", self.agent_id,
                     caller.id[:8], exc)
        except TimeoutError:
            log.warning("agent %s: the connect tone for call %s did not play out within "
                        "%.1f s; offering the caller again", self.agent_id, caller.id[:8],
                        tone_s + TONE_SLACK_S)
        queue = acd.queues[caller.queue]
        if bridged and not gone() and caller.phase is Phase.CONNECTING:
            self._change(status.answer())
            acd.call_event(caller.call, "queue", {"queue": caller.queue, "action": "connected",
                                                  "agent": self.agent_id})
            caller.close(queue.answered(caller.id, self.agent_id, acd.clock()))
            caller.phase = Phase.TALKING
            caller.connected.set_result(None)
            return True
        if bridged:
            with contextlib.suppress(CallGone, CallFailed):
                await acd.node.unbridge(caller.call, phone)
        phone_counts = not session or not phone.ended.done()
        if caller.call.ended.done() or caller.phase is Phase.OVER:
            if phone_counts and status.state is AgentState.OFFERED:
                self._change(status.withdraw())  # ready again: routes the next caller
            return False
        await self.requeue(caller)
        return False

    async def requeue(self, caller: QueuedCall) -> None:
        """The offer of `caller` to this agent failed through the agent's side: the
        caller waits on (offered to someone else first) and the agent missed it.

        A session whose phone is gone is not counted: the session logs the agent out.
        """
        acd, status = self.acd, self.status
        queue = acd.queues[caller.queue]
        if caller.id in queue:
            queue.offer_failed(caller.id)
        if caller.phase is Phase.CONNECTING:
            caller.phase = Phase.WAITING
            await caller.hold_on()
        if status.state is AgentState.OFFERED and status.call_id == caller.id:
            self._change(status.miss())  # counted: a phone that keeps failing stops here
        acd.route()

    # -- talk and wrap-up -------------------------------------------------------------------
    async def talk(self, phone: SipCall, caller: QueuedCall, *,
                   end_call: asyncio.Event | None = None, session: bool = True) -> TalkEnd:
        """Hold the talk until either side ends it; then wrap up. Returns who ended it."""
        acd, status = self.acd, self.status
        started = acd.clock()
        end_key = asyncio.ensure_future((end_call or asyncio.Event()).wait())
        try:
            news: list[asyncio.Future[Any]] = [caller.call.ended, phone.ended, end_key]
            await asyncio.wait(news, return_when=asyncio.FIRST_COMPLETED)
        finally:
            end_key.cancel()
        ended_by = TalkEnd.CALLER if caller.call.ended.done() else TalkEnd.AGENT
        if not caller.call.ended.done() and not phone.ended.done():
            with contextlib.suppress(CallGone, CallFailed):
                await acd.node.unbridge(caller.call, phone)
        now = acd.clock()
        talk_s = (now - started).total_seconds()
        log.info("agent %s: talk with call %s over after %.1f s (ended by %s)", self.agent_id,
                 caller.id[:8], talk_s, ended_by.value)
        # A session whose phone is gone is logged out by the session instead.
        if status.state is AgentState.ON_CALL and (not session or not phone.ended.done()):
            change = status.end_call(caller.spec.wrap_up_s)
            self._change(change)
            if change.state is AgentState.WRAP_UP:
                self._handling = _Handling(caller.queue, caller.entry_id, talk_s, change.at)
                self._wrap_timer = asyncio.get_running_loop().call_later(
                    caller.spec.wrap_up_s, self._wrap_up_expired)
            else:
                acd.handled(caller.queue, caller.entry_id, talk_s)
        else:
            acd.handled(caller.queue, caller.entry_id, talk_s)
        if not caller.talk_over.done():
            caller.talk_over.set_result(ended_by)
        return ended_by

    def _wrap_up_expired(self) -> None:
        self._wrap_timer = None
        if self.status.state is AgentState.WRAP_UP:
            self._change(self.status.wrap_up_done())

    def state_changed(self, change: StateChange) -> None:
        """The agent's state changed (`AcdService.change`): leaving wrap-up, however
        (timer, key, console, log-out), notes the handle time of the call before it."""
        if change.state is AgentState.WRAP_UP:
            return
        if self._wrap_timer is not None:
            self._wrap_timer.cancel()
            self._wrap_timer = None
        handling, self._handling = self._handling, None
        if handling is not None:
            wrap_s = max(0.0, (change.at - handling.wrap_up_from).total_seconds())
            self.acd.handled(handling.queue, handling.entry_id, handling.talk_s + wrap_s)

    def close(self) -> None:
        """The node stops: no timer left behind."""
        if self._wrap_timer is not None:
            self._wrap_timer.cancel()
            self._wrap_timer = None


def _rate(call: SipCall) -> int:
    assert call.media is not None
    return call.media.clock_rate
