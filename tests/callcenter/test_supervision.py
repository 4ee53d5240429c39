"""Supervision's logic over a fake conference: who hears whom in each mode, mode changes,
agents joining and leaving, the errors, and the audit rows and call events it writes.

The node is a fake of the three things supervision asks of it (dial, set_routes,
talking_with) keeping a graph of who hears whom; the registry, the journal and
the store (SQLite) are the real ones.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from callcenter.call_journal import CallJournal
from callcenter.call_registry import Activity, CallRegistry
from callcenter.core.call import CallInfo, Direction, EndReason
from callcenter.core.errors import CallFailed
from callcenter.core.events import Event
from callcenter.core.settings import SupervisionSettings
from callcenter.core.store import AsyncStore, Store
from callcenter.monitoring import (
    CallNotFound,
    ModeNotPossible,
    MonitorMode,
    MonitorNotFound,
    SupervisorNoAnswer,
    SupervisorUnavailable,
)
from callcenter.supervision import Supervision
from callcenter.supervision_routes import plan_routes
from sip.call import CallEnd, SipCall
from sip.conference import LegRoute

VOICE, ENGINE = "voice", "engine"


class _Thread:
    """Runs a SIP-thread job at once: a leg without a pjsua2 call raises CallGone."""

    async def run(self, job: Any) -> Any:
        return job()


class _Bus:
    async def publish(self, event: Event) -> None:
        pass


class FakeNode:
    """Who hears whom, as a set of (listener, speaker, what) edges; what = voice | engine."""

    def __init__(self, registry: CallRegistry) -> None:
        self.registry = registry
        self.edges: set[tuple[str, str, str]] = set()
        self.answer_code: int | None = None  # a dial fails with this code when set
        self.dialled: list[str] = []
        self.leg_names: dict[str, str] = {}

    def bridge(self, a: SipCall, b: SipCall) -> None:
        self.edges |= {(a.id, b.id, VOICE), (b.id, a.id, VOICE)}

    def unbridge(self, a: SipCall, b: SipCall) -> None:
        self.edges -= {(a.id, b.id, VOICE), (b.id, a.id, VOICE)}

    async def dial(self, uri: str, *, ring_timeout: float | None = None) -> SipCall:
        self.dialled.append(uri)
        await asyncio.sleep(0)
        if self.answer_code is not None:
            raise CallFailed(f"{uri}: busy", self.answer_code)
        leg = make_leg(self.registry, uri, Direction.OUTBOUND)
        leg._on_answered()
        return leg

    async def set_routes(self, leg: SipCall, routes: Sequence[tuple[SipCall, LegRoute]]
                         ) -> None:
        assert leg.leg is not None
        for other, route in routes:
            if other.leg is None or other is leg:
                continue
            for edge, on in (((leg.id, other.id, VOICE), route.hears),
                             ((leg.id, other.id, ENGINE), route.hears_engine),
                             ((other.id, leg.id, VOICE), route.heard)):
                (self.edges.add if on else self.edges.discard)(edge)

    async def talking_with(self, call: SipCall) -> list[SipCall]:
        mutual = {b for a, b, what in self.edges if a == call.id and what == VOICE
                  and (b, a, VOICE) in self.edges}
        return [self.registry.sip_call(i) for i in sorted(mutual) if i in self.registry]

    def hears(self, listener: SipCall) -> set[str]:
        """What `listener` hears: other legs' names, and "bot" for a caller's engine audio."""
        names = {self.leg_names.get(b, b) + ("" if what == VOICE else ":bot")
                 for a, b, what in self.edges if a == listener.id}
        return names


def make_leg(registry: CallRegistry, to: str, direction: Direction = Direction.INBOUND,
             call_id: str | None = None) -> SipCall:
    info = CallInfo(call_id=call_id or uuid.uuid4().hex, direction=direction,
                    from_uri="sip:5551234@127.0.0.1", to_uri=to, started_at=datetime.now(UTC))
    call = SipCall(info, cast(Any, _Thread()), asyncio.get_running_loop(), registry)
    call.leg = cast(Any, SimpleNamespace(  # "has audio"
        inbox=SimpleNamespace(close=lambda: None), outbox=SimpleNamespace(clear=lambda: None)))
    registry.on_call_event(call, "offered" if direction is Direction.INBOUND else "dialing", {})
    return call


def end(call: SipCall) -> None:
    call._on_ended(CallEnd(EndReason.CALLER_HANGUP, 200))


class World:
    def __init__(self, store: AsyncStore, journal: CallJournal) -> None:
        self.store = store
        self.journal = journal
        self.registry = CallRegistry("n1", forward=journal)
        self.node = FakeNode(self.registry)
        self.supervision = Supervision(
            cast(Any, self.node), self.registry, journal, store,
            SupervisionSettings(ring_timeout_s=1, recheck_s=0.02), "n1")

    def caller_and_agent(self) -> tuple[SipCall, SipCall]:
        caller = make_leg(self.registry, "sip:100@127.0.0.1")
        agent = make_leg(self.registry, "sip:200@127.0.0.1")
        for leg in (caller, agent):
            leg._on_answered()
        self.node.bridge(caller, agent)
        self.node.leg_names.update({caller.id: "caller", agent.id: "agent"})
        return caller, agent

    async def rows(self, call_id: str) -> list[Any]:
        await self.journal.close()
        self.journal.start()
        return await self.store.supervision.rows(call_id=call_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = AsyncStore(Store(f"sqlite:///{tmp_path / 'cc.db'}"))
    await store.migrate()
    journal = CallJournal(store, cast(Any, _Bus()), "n1")
    journal.start()
    try:
        yield World(store, journal)
    finally:
        await journal.close()
        await store.close()


@pytest.mark.parametrize(("mode", "with_agent", "supervisor_hears", "caller_hears",
                          "agent_hears"), [
    (MonitorMode.LISTEN, True, {"caller", "caller:bot", "agent"}, {"agent"}, {"caller"}),
    (MonitorMode.WHISPER, True, {"caller", "caller:bot", "agent"}, {"agent"},
     {"caller", "sup"}),
    (MonitorMode.BARGE, True, {"caller", "caller:bot", "agent"}, {"agent", "sup"},
     {"caller", "sup"}),
    (MonitorMode.LISTEN, False, {"caller", "caller:bot"}, set(), set()),
    (MonitorMode.BARGE, False, {"caller", "caller:bot"}, {"sup"}, set()),
])
async def test_who_hears_whom(world: World, mode: MonitorMode, with_agent: bool,
                              supervisor_hears: set[str], caller_hears: set[str],
                              agent_hears: set[str]) -> None:
    caller, agent = world.caller_and_agent()
    if not with_agent:
        world.node.unbridge(caller, agent)
    info = await world.supervision.start(caller.id[:8], mode, supervisor="ops",
                                         phone="sip:sup@127.0.0.1")
    assert info.state == "joined" and info.leg_call_id is not None
    sup = world.registry.sip_call(info.leg_call_id)
    world.node.leg_names[sup.id] = "sup"
    assert world.node.hears(sup) == supervisor_hears
    assert world.node.hears(caller) == caller_hears
    assert world.node.hears(agent) == agent_hears
    live = world.registry.info(sup.id)
    assert (live.activity, live.agent, live.peer_call_id) == (
        Activity.SUPERVISOR, "ops", caller.id)
    assert [m.monitor_id for m in world.registry.info(caller.id).monitors] == [info.monitor_id]
    await world.supervision.stop(info.monitor_id)


def test_the_route_plan_as_a_table() -> None:
    plan = plan_routes(MonitorMode.WHISPER, "caller", agents=["agent"], gone=["old", "caller"])
    assert plan == [("caller", LegRoute(hears=True, hears_engine=True, heard=False)),
                    ("agent", LegRoute(hears=True, heard=True)),
                    ("old", LegRoute())]


async def test_modes_change_and_every_change_is_audited(world: World) -> None:
    caller, agent = world.caller_and_agent()
    info = await world.supervision.start(caller.id, "listen", supervisor="ops",
                                         phone="sip:sup@127.0.0.1")
    sup = world.registry.sip_call(info.leg_call_id or "")
    world.node.leg_names[sup.id] = "sup"
    await world.supervision.change_mode(info.monitor_id, "whisper")
    assert world.node.hears(agent) == {"caller", "sup"} and world.node.hears(caller) == {"agent"}
    await world.supervision.change_mode(info.monitor_id, MonitorMode.BARGE)
    assert world.node.hears(caller) == {"agent", "sup"}
    await world.supervision.change_mode(info.monitor_id, "listen")
    assert world.node.hears(caller) == {"agent"} and world.node.hears(agent) == {"caller"}
    final = await world.supervision.stop(info.monitor_id)
    assert (final.state, final.end_reason) == ("ended", "stopped")
    assert sup.hangup_reason is not None  # the phone leg is hung up; the call goes on
    assert not caller.ended.done() and world.supervision.active() == []
    [row] = await world.rows(caller.id)
    assert [m for m, _ in row.mode_log] == ["listen", "whisper", "barge", "listen"]
    assert (row.supervisor, row.via, row.phone, row.end_reason, row.leg_call_id) == (
        "ops", "phone", "sip:sup@127.0.0.1", "stopped", sup.id)
    assert row.duration_s is not None and row.duration_s >= 0
    events = [e for e in await world.store.events_for(caller.id) if e.kind == "monitor"]
    assert [e.data["action"] for e in events] == [
        "requested", "joined", "mode", "mode", "mode", "ended"]


async def test_an_agent_joining_later_is_heard_and_one_leaving_is_dropped(
        world: World) -> None:
    caller, agent = world.caller_and_agent()
    world.node.unbridge(caller, agent)
    info = await world.supervision.start(caller.id, "barge", supervisor="ops",
                                         phone="sip:sup@127.0.0.1")
    sup = world.registry.sip_call(info.leg_call_id or "")
    world.node.leg_names[sup.id] = "sup"
    world.node.bridge(caller, agent)
    await asyncio.sleep(0.15)
    assert world.node.hears(agent) == {"caller", "sup"}
    assert world.node.hears(sup) == {"caller", "caller:bot", "agent"}
    world.node.unbridge(caller, agent)
    await asyncio.sleep(0.15)
    assert world.node.hears(sup) == {"caller", "caller:bot"} and world.node.hears(agent) == set()
    await world.supervision.stop(info.monitor_id)


async def test_the_call_ending_ends_the_monitor_the_supervisor_leaving_does_not_end_the_call(
        world: World) -> None:
    caller, _ = world.caller_and_agent()
    first = await world.supervision.start(caller.id, "listen", supervisor="a",
                                          phone="sip:a@127.0.0.1")
    second = await world.supervision.start(caller.id, "listen", supervisor="b",
                                           phone="sip:b@127.0.0.1")
    end(world.registry.sip_call(second.leg_call_id or ""))
    await asyncio.sleep(0.15)
    assert not caller.ended.done()
    assert [m.monitor_id for m in world.supervision.active()] == [first.monitor_id]
    end(caller)
    await asyncio.sleep(0.15)
    assert world.supervision.active() == []
    rows = {r.supervisor: r for r in await world.rows(caller.id)}
    assert (rows["a"].end_reason, rows["b"].end_reason) == ("call_ended", "supervisor_hung_up")


async def test_errors_are_typed(world: World) -> None:
    caller, agent = world.caller_and_agent()
    with pytest.raises(CallNotFound):
        await world.supervision.start("ffffffff", "listen", supervisor="ops", phone="sip:x@y")
    with pytest.raises(ModeNotPossible, match="unknown mode"):
        await world.supervision.start(caller.id, "spy", supervisor="ops", phone="sip:x@y")
    with pytest.raises(SupervisorUnavailable, match="give a phone"):
        await world.supervision.start(caller.id, "listen", supervisor="ops")
    with pytest.raises(MonitorNotFound):
        await world.supervision.stop("nope")
    world.node.unbridge(caller, agent)
    with pytest.raises(ModeNotPossible, match="no agent to whisper to"):
        await world.supervision.start(caller.id, "whisper", supervisor="ops", phone="sip:x@y")
    world.node.answer_code = 486
    with pytest.raises(SupervisorNoAnswer) as exc:
        await world.supervision.start(caller.id, "listen", supervisor="ops", phone="sip:x@y")
    assert exc.value.sip_code == 486
    [row] = await world.rows(caller.id)
    assert (row.end_reason, row.sip_code, row.joined_at) == ("no_answer", 486, None)
    info = world.registry.info(caller.id)
    assert info.monitors == ()


class _Acd:
    """What supervision reads of the human queue: agents, sessions, statuses, changes."""

    def __init__(self, session_leg: SipCall) -> None:
        from acd.agent_state import AgentStatus
        from acd.agents_config import AgentSpec

        self.config = SimpleNamespace(agents={
            "1009": AgentSpec(id="1009", name="Pat", pin="9090", supervisor=True),
            "1001": AgentSpec(id="1001", name="Dana", pin="4711")})
        self.settings = SimpleNamespace(acd=SimpleNamespace(agents_path="agents.yaml"))
        self.sessions = {"1009": SimpleNamespace(call=session_leg)}
        self.statuses = {"1009": AgentStatus("1009", clock=lambda: datetime.now(UTC))}
        self.changes: list[tuple[str, str | None]] = []
        self.change(self.statuses["1009"].log_in(ready=True))

    def change(self, change: Any) -> None:
        self.changes.append((change.state.value, change.reason))


async def test_a_supervisor_listens_on_their_session_not_ready_meanwhile(world: World) -> None:
    caller, agent = world.caller_and_agent()
    session_leg = make_leg(world.registry, "sip:200@127.0.0.1")
    world.node.leg_names[session_leg.id] = "sup"
    acd = _Acd(session_leg)
    world.supervision.acd = cast(Any, acd)
    with pytest.raises(ModeNotPossible, match="agent 1001 is not a supervisor"):
        await world.supervision.start(caller.id, "listen", supervisor="1001")
    info = await world.supervision.start(caller.id, "whisper", supervisor="1009")
    assert (info.via, info.leg_call_id, world.node.dialled) == ("session", session_leg.id, [])
    assert world.node.hears(agent) == {"caller", "sup"}
    assert acd.changes[-1] == ("not_ready", "supervising")
    with pytest.raises(SupervisorUnavailable, match="listening in already"):
        await world.supervision.start(caller.id, "listen", supervisor="1009")
    await world.supervision.stop(info.monitor_id)
    assert world.node.hears(session_leg) == set() and world.node.hears(agent) == {"caller"}
    assert session_leg.hangup_reason is None  # the session stays up
    assert acd.changes[-1] == ("ready", None)
    [row] = await world.rows(caller.id)
    assert (row.via, row.supervisor, row.phone) == ("session", "1009", None)
