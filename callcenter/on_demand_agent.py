"""On-demand agents: the engine rings the agent's phone for each caller.

    acd.spawn(ring_agent(acd, agent, caller), ...)    # routing offered `caller` to `agent`

An on-demand agent (``mode: on_demand`` in the agents file) has no session:
routing offers them callers while they are ready, like session agents. The
engine then dials their ``phone`` for at most ``on_demand.ring_timeout_s``
while the caller keeps hearing the hold audio; the offer (who calls, why: the
handoff, :meth:`callcenter.queued_call.QueuedCall.offer_to`) is published as
the phone starts to ring. Answered, the agent hears the whisper, both hear
the tone, they are bridged and talk, and the agent wraps
up, as in a session (:class:`callcenter.agent_desk.AgentDesk`); when the talk
ends the engine hangs up the agent's phone. Not answered, busy, refused or
failed: the agent missed the offer (``on_demand.max_misses`` in a row make
them not ready, reason ``no_answer``) and the caller is offered to the next
agent. A caller who hangs up while the phone rings cancels the ring; the
agent keeps their place (the offer is withdrawn, no miss).

How an on-demand agent becomes ready: ``at_start`` in the agents file, or
:meth:`callcenter.acd_service.AcdService.agent_log_in` and ``agent_ready``
(for the control API and CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from acd.agent_state import AgentState
from acd.agents_config import AgentSpec
from callcenter.core.errors import CallCenterError, CallGone
from callcenter.queued_call import Phase, QueuedCall
from sip.call import SipCall

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)


async def ring_agent(acd: AcdService, agent: AgentSpec, caller: QueuedCall) -> None:
    """Ring `agent` (offered `caller`), then connect, talk and wrap up; see the module."""
    assert agent.phone is not None
    desk = acd.desks[agent.id]
    spec = acd.config.on_demand
    log.info("agent %s: ringing %s for call %s", agent.id, agent.phone, caller.id[:8])
    whisper = caller.offer_to(agent.id)  # a console shows who calls while it rings
    dialing = asyncio.ensure_future(acd.node.dial(agent.phone,
                                                  ring_timeout=spec.ring_timeout_s))
    try:
        news: list[asyncio.Future[Any]] = [dialing, caller.call.ended]
        await asyncio.wait(news, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not dialing.done():
            dialing.cancel()  # the dial hangs up (CANCEL) what it rings
            with contextlib.suppress(asyncio.CancelledError, CallCenterError, TimeoutError):
                await dialing
    phone: SipCall | None = None
    failure: Exception | None = None
    if not dialing.cancelled():
        try:
            phone = dialing.result()
        except (CallCenterError, TimeoutError) as exc:  # refused, no answer, no media
            failure = exc
    if caller.call.ended.done() or caller.phase is Phase.OVER:
        if phone is not None:
            await phone.hangup()
        if desk.status.state is AgentState.OFFERED and desk.status.call_id == caller.id:
            acd.change(desk.status.withdraw())
        return
    if phone is None:
        log.info("agent %s: no answer for call %s: %s", agent.id, caller.id[:8], failure)
        acd.call_event(caller.call, "queue", {"queue": caller.queue, "action": "missed",
                                              "agent": agent.id, "why": str(failure)})
        await desk.requeue(caller)
        return
    try:
        if await desk.connect(phone, caller, whisper=whisper, tone_s=spec.tone_s,
                              session=False):
            await desk.talk(phone, caller, session=False)
    finally:
        if not phone.ended.done():
            with contextlib.suppress(CallGone):
                await phone.hangup()
