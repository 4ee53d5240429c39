"""The node's live calls by id: what each leg is and what it is doing now.

Contract (for the HTTP API, the CLI and supervision; all on the event loop)::

    calls = engine.calls                      # a CallRegistry
    calls.snapshot()        -> list[LiveCallInfo]   # every live leg, oldest first
    calls.get(call_id)      -> LiveCallInfo | None  # exact id; None once ended
    calls.info(id_or_prefix)-> LiveCallInfo         # exact id or a unique prefix
    calls.resolve(id_or_prefix) -> str              # the full call id
    calls.sip_call(id_or_prefix) -> SipCall         # the leg itself (engine code only)

``info``, ``resolve`` and ``sip_call`` raise :class:`callcenter.monitoring.CallNotFound`
(no live call; map to 404) or :class:`callcenter.monitoring.AmbiguousCallId`
(the prefix fits several; 409). The logs print the first 8 characters of a
call id; those are accepted as a prefix.

Every leg the node's SIP layer creates is registered the moment it exists
(an offered INVITE, or a call the engine dials: agents' and supervisors'
phones, campaign calls) and removed when it ends: the registry sits in front
of the call journal as the SIP node's observer and passes every piece of
news on. A :class:`LiveCallInfo` is a frozen, plain snapshot
(``model_dump(mode="json")`` gives JSON); it does not change after it is taken.

``activity`` says what the leg is doing now (:class:`Activity`):

- ``ringing``: offered or being dialled, not answered yet;
- ``bot``: an answered caller with the engine's flow (or greeting);
- ``queued``: waiting in ``queue`` at ``position`` (1 = next), or being
  connected to ``agent``;
- ``with_agent``: talking to agent ``agent``; ``peer_call_id`` is the
  agent's leg;
- ``agent_session``: an agent's phone on the session number; ``agent`` once
  logged in, ``peer_call_id`` the caller it is offered or talking to;
- ``supervisor``: a supervisor's leg the engine dialled; ``agent`` the
  supervisor, ``peer_call_id`` the monitored call;
- ``dialled``: another leg the engine dialled (an on-demand agent's phone,
  a campaign call) that its owner has not marked.

Owners of legs the registry cannot work out by itself mark them with
:meth:`CallRegistry.mark` (an on-demand agent's leg: ``mark(id,
Activity.AGENT_LEG, agent=..., peer_call_id=...)``; a campaign call talking
to the bot: ``mark(id, Activity.BOT)``). ``monitors`` lists the supervisors
on the call (:class:`callcenter.monitoring.MonitorInfo`).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from acd.agent_state import AgentState
from callcenter.core.call import CallState, Direction, utcnow
from callcenter.monitoring import AmbiguousCallId, CallNotFound, MonitorInfo
from dialog.ports import user_part
from sip.call import CallObserver, SipCall

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)


class Activity(enum.StrEnum):
    """What a live leg is doing now (see the module docstring)."""

    RINGING = "ringing"
    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    AGENT_SESSION = "agent_session"
    AGENT_LEG = "agent_leg"  # an on-demand agent's phone the engine rang
    SUPERVISOR = "supervisor"
    DIALLED = "dialled"


class LiveCallInfo(BaseModel):
    """One live call leg, as a plain read-only record (JSON-able)."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    short_id: str  # the first 8 characters, as the logs print them
    node: str
    direction: Direction
    state: CallState  # ringing | answered | on_hold
    from_uri: str
    to_uri: str
    caller: str  # the user part (number) of from_uri
    callee: str  # the user part (number) of to_uri
    started_at: datetime
    answered_at: datetime | None = None
    activity: Activity
    queue: str | None = None
    position: int | None = None  # 1 = next in `queue`
    agent: str | None = None  # the agent talking (or offered), session's or leg's agent
    peer_call_id: str | None = None  # the other leg of a talk, or the monitored call
    monitors: tuple[MonitorInfo, ...] = ()


@dataclass
class _Mark:
    activity: Activity
    agent: str | None
    peer_call_id: str | None


@dataclass
class _Entry:
    call: SipCall
    answered_at: datetime | None = None
    mark: _Mark | None = None


class CallRegistry:
    """The node's live legs, fed by the SIP node as its observer (event loop only)."""

    def __init__(self, node_name: str, forward: CallObserver | None = None) -> None:
        """`forward` receives every piece of call news after the registry (the journal)."""
        self.node_name = node_name
        self.forward = forward
        # The human queue, when the node has one: where queued and agent legs are.
        self.acd: AcdService | None = None
        self._entries: dict[str, _Entry] = {}
        self._monitors: dict[str, dict[str, MonitorInfo]] = {}

    # -- fed by the SIP node ----------------------------------------------------------
    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        """Track legs as they come and go, then pass the news on."""
        if kind in ("offered", "dialing"):
            self._entries.setdefault(call.id, _Entry(call))
        elif kind == "answered":
            entry = self._entries.get(call.id)
            if entry is not None:
                entry.answered_at = utcnow()
        elif kind == "ended":
            self._entries.pop(call.id, None)
            self._monitors.pop(call.id, None)
        if self.forward is not None:
            self.forward.on_call_event(call, kind, data)

    # -- marks and monitors (owners of legs) -----------------------------------------------
    def mark(self, call_id: str, activity: Activity, *, agent: str | None = None,
             peer_call_id: str | None = None) -> None:
        """Say what a leg is doing when the registry cannot tell (see the module doc)."""
        entry = self._entries.get(call_id)
        if entry is not None:
            entry.mark = _Mark(activity, agent, peer_call_id)

    def unmark(self, call_id: str) -> None:
        """Drop a :meth:`mark`: the registry works the activity out again."""
        entry = self._entries.get(call_id)
        if entry is not None:
            entry.mark = None

    def set_monitor(self, info: MonitorInfo) -> None:
        """Attach (or update) a supervisor's monitor on its call."""
        if info.call_id in self._entries:
            self._monitors.setdefault(info.call_id, {})[info.monitor_id] = info

    def drop_monitor(self, call_id: str, monitor_id: str) -> None:
        """Detach a monitor that ended."""
        monitors = self._monitors.get(call_id)
        if monitors is not None:
            monitors.pop(monitor_id, None)
            if not monitors:
                del self._monitors[call_id]

    # -- lookups ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._entries

    def resolve(self, id_or_prefix: str) -> str:
        """The full id of the live call with this id, or the one whose id starts with it."""
        key = id_or_prefix.strip().lower()
        if key in self._entries:
            return key
        found = [call_id for call_id in self._entries if key and call_id.startswith(key)]
        if not found:
            raise CallNotFound(f"no live call {id_or_prefix!r} on node {self.node_name}")
        if len(found) > 1:
            raise AmbiguousCallId(f"{id_or_prefix!r} fits {len(found)} live calls: "
                                  f"{', '.join(sorted(c[:12] for c in found))}")
        return found[0]

    def sip_call(self, id_or_prefix: str) -> SipCall:
        """The live leg itself (for engine code: supervision, agents)."""
        return self._entries[self.resolve(id_or_prefix)].call

    def get(self, call_id: str) -> LiveCallInfo | None:
        """The live call with exactly this id, or None."""
        entry = self._entries.get(call_id)
        return self._describe(entry) if entry is not None else None

    def info(self, id_or_prefix: str) -> LiveCallInfo:
        """The live call with this id or id prefix (CallNotFound, AmbiguousCallId)."""
        return self._describe(self._entries[self.resolve(id_or_prefix)])

    def snapshot(self) -> list[LiveCallInfo]:
        """Every live leg, oldest first."""
        entries = sorted(self._entries.values(), key=lambda e: e.call.info.started_at)
        return [self._describe(entry) for entry in entries]

    # -- what a leg is doing --------------------------------------------------------------
    def _describe(self, entry: _Entry) -> LiveCallInfo:
        call, info = entry.call, entry.call.info
        fields: dict[str, Any] = {}
        if entry.mark is not None:
            fields = {"activity": entry.mark.activity, "agent": entry.mark.agent,
                      "peer_call_id": entry.mark.peer_call_id}
        else:
            fields = self._derived(call)
        state = call.state if call.state is not CallState.ENDED else CallState.ANSWERED
        return LiveCallInfo(
            call_id=call.id, short_id=call.id[:8], node=self.node_name,
            direction=info.direction, state=state, from_uri=info.from_uri,
            to_uri=info.to_uri, caller=user_part(info.from_uri) if info.from_uri else "",
            callee=user_part(info.to_uri) if info.to_uri else "",
            started_at=info.started_at, answered_at=entry.answered_at,
            monitors=tuple(self._monitors.get(call.id, {}).values()), **fields)

    def _derived(self, call: SipCall) -> dict[str, Any]:
        acd = self.acd
        if acd is not None and call.info.direction is Direction.INBOUND:
            if acd.is_session_call(call):
                return self._session(acd, call)
            for agent_id, status in acd.statuses.items():
                if status.call_id == call.id and status.state is AgentState.ON_CALL:
                    session = acd.sessions.get(agent_id)
                    peer = session.call if session else self._dialled_peer(call)
                    return {"activity": Activity.WITH_AGENT, "agent": agent_id,
                            "peer_call_id": peer.id if peer else None}
            waiting = acd.waiting.get(call.id)
            if waiting is not None:
                queue = acd.queues.get(waiting.queue)
                offered = next((a for a, s in acd.statuses.items()
                                if s.call_id == call.id and s.state is AgentState.OFFERED),
                               None)
                return {"activity": Activity.QUEUED, "queue": waiting.queue, "agent": offered,
                        "position": queue.position(call.id)
                        if queue is not None and call.id in queue else None}
        if call.state is CallState.RINGING:
            return {"activity": Activity.RINGING}
        if call.info.direction is Direction.OUTBOUND:
            for agent_id, status in (acd.statuses.items() if acd is not None else ()):
                caller = self._entries.get(status.call_id or "")
                if (status.state is AgentState.ON_CALL and caller is not None
                        and _bridged(call, caller.call)):
                    return {"activity": Activity.AGENT_LEG, "agent": agent_id,
                            "peer_call_id": caller.call.id}
            return {"activity": Activity.DIALLED}
        return {"activity": Activity.BOT}

    def _dialled_peer(self, caller: SipCall) -> SipCall | None:
        """The unmarked leg the engine dialled that talks with `caller` (an on-demand
        agent's phone), if any."""
        return next((e.call for e in self._entries.values()
                     if e.mark is None and e.call.info.direction is Direction.OUTBOUND
                     and _bridged(e.call, caller)), None)

    @staticmethod
    def _session(acd: AcdService, call: SipCall) -> dict[str, Any]:
        for agent_id, session in acd.sessions.items():
            if session.call is call:
                status = acd.statuses[agent_id]
                peer = status.call_id if status.state in (AgentState.OFFERED,
                                                          AgentState.ON_CALL) else None
                return {"activity": Activity.AGENT_SESSION, "agent": agent_id,
                        "peer_call_id": peer}
        return {"activity": Activity.AGENT_SESSION}


def _bridged(a: SipCall, b: SipCall) -> bool:
    """Whether legs `a` and `b` hear each other."""
    return a.leg is not None and b.leg is not None and a.leg.hears(b.leg) and b.leg.hears(a.leg)
