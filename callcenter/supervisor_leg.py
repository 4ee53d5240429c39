"""How a supervisor reaches a call: their phone, rung by the engine, or their agent session.

    leg = await ring_supervisor(node, phone, ring_timeout_s, caller)   # SupervisionError
    seat = SessionSeat.take(acd, "1009")        # a supervisor's logged-in agent session

A phone leg belongs to its monitor: the monitor hangs it up when it ends.
A session stays the agent's: while it is used to listen in, the agent is not
ready (reason ``supervising``) so that no caller is routed to it, and is made
ready again afterwards if they were ready (or wrapping up) before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd.agent_state import SUPERVISING, AgentState, IllegalTransition
from callcenter.core.errors import CallCenterError, CallFailed, CapacityError
from callcenter.monitoring import (
    CallNotFound,
    ModeNotPossible,
    SupervisorNoAnswer,
    SupervisorUnavailable,
)
from sip.call import SipCall
from sip.node import SipNode

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)


async def ring_supervisor(node: SipNode, phone: str, ring_timeout_s: float,
                          caller: SipCall, stop: asyncio.Event) -> SipCall:
    """Dial `phone` and return the answered leg.

    Raises SupervisorNoAnswer (with the SIP code; 408 when it rang out, 487
    when `stop` was set meanwhile), SupervisorUnavailable (the node has no free
    call slot) or CallNotFound (the monitored call ended while the phone rang).
    The ringing is cancelled in the last two cases.
    """
    dialing = asyncio.ensure_future(node.dial(phone, ring_timeout=ring_timeout_s))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        news: list[asyncio.Future[Any]] = [dialing, caller.ended, stopped]
        await asyncio.wait(news, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not dialing.done():
            dialing.cancel()
            with contextlib.suppress(asyncio.CancelledError, CallCenterError, TimeoutError):
                leg = await dialing
                await leg.hangup()  # answered as the cancel went out
    if dialing.cancelled():
        if caller.ended.done():
            raise CallNotFound(f"call {caller.id[:8]} ended while {phone} rang")
        raise SupervisorNoAnswer(f"stopped while {phone} rang", 487)
    try:
        leg = dialing.result()
    except CallFailed as exc:
        raise SupervisorNoAnswer(f"the supervisor's phone {phone} did not answer: {exc}",
                                 exc.sip_code) from None
    except CapacityError as exc:
        raise SupervisorUnavailable(f"cannot ring {phone}: {exc}") from None
    except TimeoutError:
        raise SupervisorNoAnswer(f"the supervisor's phone {phone} answered but its audio "
                                 "never started", None) from None
    if caller.ended.done():
        await leg.hangup()
        raise CallNotFound(f"call {caller.id[:8]} ended while {phone} rang")
    return leg


@dataclass
class SessionSeat:
    """A supervisor's agent session, borrowed to listen in."""

    acd: AcdService
    agent_id: str
    call: SipCall
    restore_ready: bool

    @classmethod
    def find(cls, acd: AcdService | None, supervisor: str) -> SipCall | None:
        """The session leg of `supervisor` if they are a supervisor with a session."""
        if acd is None:
            return None
        spec = acd.config.agents.get(supervisor)
        session = acd.sessions.get(supervisor)
        if spec is None or not spec.supervisor or session is None:
            return None
        return session.call

    @classmethod
    def take(cls, acd: AcdService, supervisor: str) -> SessionSeat:
        """Borrow the session: refused while the agent is offered a caller or on a call."""
        session = acd.sessions[supervisor]
        status = acd.statuses[supervisor]
        if status.state in (AgentState.OFFERED, AgentState.ON_CALL):
            raise SupervisorUnavailable(f"agent {supervisor} is {status.state.value} on their "
                                        "session; give a phone to ring instead")
        restore = status.state in (AgentState.READY, AgentState.WRAP_UP)
        if restore:
            try:
                acd.change(status.not_ready(SUPERVISING))
            except IllegalTransition as exc:  # raced with a routing decision
                raise SupervisorUnavailable(str(exc)) from None
        return cls(acd, supervisor, session.call, restore)

    def give_back(self) -> None:
        """The monitor ended: ready again if the agent was ready before and still waits."""
        status = self.acd.statuses[self.agent_id]
        if (self.restore_ready and status.state is AgentState.NOT_READY
                and status.reason == SUPERVISING and self.agent_id in self.acd.sessions):
            with contextlib.suppress(IllegalTransition):
                self.acd.change(status.ready())


def check_supervisor(acd: AcdService | None, supervisor: str) -> None:
    """A configured agent named as supervisor must be marked ``supervisor: true``."""
    if not supervisor.strip():
        raise ModeNotPossible("name the supervisor")
    if acd is not None:
        spec = acd.config.agents.get(supervisor)
        if spec is not None and not spec.supervisor:
            raise ModeNotPossible(f"agent {supervisor} is not a supervisor "
                                  f"(supervisor: true in {acd.settings.acd.agents_path})")
