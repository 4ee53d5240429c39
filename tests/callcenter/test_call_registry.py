"""The node's call registry: legs come and go with the SIP node's news; what each is doing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from acd.agent_state import AgentState
from callcenter.call_registry import Activity, CallRegistry
from callcenter.core.call import CallInfo, CallState, Direction, EndReason
from callcenter.monitoring import AmbiguousCallId, CallNotFound, MonitorInfo, MonitorMode
from sip.call import CallEnd, SipCall


class _Journal:
    def __init__(self) -> None:
        self.news: list[tuple[str, str]] = []

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        self.news.append((call.id, kind))


def _leg(registry: CallRegistry, call_id: str, *, direction: Direction = Direction.INBOUND,
         to: str = "sip:100@127.0.0.1") -> SipCall:
    info = CallInfo(call_id=call_id, direction=direction, from_uri="<sip:5551234@127.0.0.1>",
                    to_uri=to, started_at=datetime.now(UTC))
    call = SipCall(info, cast(Any, None), asyncio.get_running_loop(), registry)
    registry.on_call_event(call, "offered" if direction is Direction.INBOUND else "dialing", {})
    return call


async def test_legs_are_registered_until_they_end_and_news_goes_on() -> None:
    journal = _Journal()
    registry = CallRegistry("node-a", forward=journal)
    call = _leg(registry, "a1b2c3d4" + "0" * 24)
    assert registry.info("a1b2c3d4").activity is Activity.RINGING
    call._on_answered()
    live = registry.get(call.id)
    assert live is not None and live.activity is Activity.BOT
    assert live.state is CallState.ANSWERED and live.answered_at is not None
    assert (live.caller, live.callee, live.short_id, live.node) == (
        "5551234", "100", "a1b2c3d4", "node-a")
    assert json.loads(live.model_dump_json())["activity"] == "bot"
    call._on_ended(CallEnd(EndReason.CALLER_HANGUP, 200))
    assert registry.get(call.id) is None and len(registry) == 0
    assert journal.news == [(call.id, "offered"), (call.id, "answered"), (call.id, "ended")]


async def test_prefixes_resolve_when_unique() -> None:
    registry = CallRegistry("n")
    first = _leg(registry, "abc1" + "0" * 28)
    _leg(registry, "abc2" + "0" * 28)
    assert registry.resolve(first.id) == first.id
    assert registry.sip_call("ABC1") is first
    with pytest.raises(AmbiguousCallId):
        registry.resolve("abc")
    with pytest.raises(CallNotFound):
        registry.info("ffff")
    with pytest.raises(CallNotFound):
        registry.resolve("")
    assert [c.call_id for c in registry.snapshot()] == [first.id, "abc2" + "0" * 28]


async def test_dialled_legs_and_marks() -> None:
    registry = CallRegistry("n")
    leg = _leg(registry, "d" * 32, direction=Direction.OUTBOUND, to="sip:sup@127.0.0.1")
    leg._on_answered()
    assert registry.info("ddd").activity is Activity.DIALLED
    registry.mark(leg.id, Activity.SUPERVISOR, agent="1002", peer_call_id="e" * 32)
    live = registry.info(leg.id)
    assert (live.activity, live.agent, live.peer_call_id) == (
        Activity.SUPERVISOR, "1002", "e" * 32)
    registry.unmark(leg.id)
    assert registry.info(leg.id).activity is Activity.DIALLED


async def test_monitors_are_listed_on_their_call() -> None:
    registry = CallRegistry("n")
    call = _leg(registry, "c" * 32)
    monitor = MonitorInfo(monitor_id="m1", call_id=call.id, supervisor="1002",
                          mode=MonitorMode.LISTEN, via="phone", started_at=datetime.now(UTC))
    registry.set_monitor(monitor)
    assert registry.info(call.id).monitors == (monitor,)
    registry.drop_monitor(call.id, "m1")
    assert registry.info(call.id).monitors == ()


async def test_the_human_queue_says_where_callers_and_agents_are() -> None:
    registry = CallRegistry("n")
    caller = _leg(registry, "1" * 32)
    waiting = _leg(registry, "2" * 32)
    session_leg = _leg(registry, "3" * 32, to="sip:200@127.0.0.1")
    for leg in (caller, waiting, session_leg):
        leg._on_answered()
    acd = SimpleNamespace(
        is_session_call=lambda call: call is session_leg,
        statuses={"1001": SimpleNamespace(call_id=caller.id, state=AgentState.ON_CALL)},
        sessions={"1001": SimpleNamespace(call=session_leg)},
        waiting={waiting.id: SimpleNamespace(queue="front-desk")},
        queues={"front-desk": _Queue({waiting.id})})
    registry.acd = cast(Any, acd)
    with_agent = registry.info(caller.id)
    assert (with_agent.activity, with_agent.agent, with_agent.peer_call_id) == (
        Activity.WITH_AGENT, "1001", session_leg.id)
    queued = registry.info(waiting.id)
    assert (queued.activity, queued.queue, queued.position) == (
        Activity.QUEUED, "front-desk", 1)
    session = registry.info(session_leg.id)
    assert (session.activity, session.agent, session.peer_call_id) == (
        Activity.AGENT_SESSION, "1001", caller.id)


class _Queue:
    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    def __contains__(self, call_id: object) -> bool:
        return call_id in self.ids

    def position(self, call_id: str) -> int:
        return 1


class _Leg:
    """A leg's audio as the registry sees it: whom it hears."""

    def __init__(self) -> None:
        self.heard: set[object] = set()

    def hears(self, other: object) -> bool:
        return other in self.heard


async def test_an_on_demand_agents_phone_is_found_by_the_bridge() -> None:
    registry = CallRegistry("n")
    caller = _leg(registry, "4" * 32)
    phone = _leg(registry, "5" * 32, direction=Direction.OUTBOUND, to="sip:1003@127.0.0.1")
    for leg in (caller, phone):
        leg._on_answered()
        leg.leg = cast(Any, _Leg())
    registry.acd = cast(Any, SimpleNamespace(
        is_session_call=lambda call: False, sessions={}, waiting={}, queues={},
        statuses={"1003": SimpleNamespace(call_id=caller.id, state=AgentState.ON_CALL)}))
    assert registry.info(phone.id).activity is Activity.DIALLED  # rung, not bridged yet
    cast(Any, caller.leg).heard.add(phone.leg)
    cast(Any, phone.leg).heard.add(caller.leg)
    talking = registry.info(caller.id)
    assert (talking.activity, talking.agent, talking.peer_call_id) == (
        Activity.WITH_AGENT, "1003", phone.id)
    leg = registry.info(phone.id)
    assert (leg.activity, leg.agent, leg.peer_call_id) == (Activity.AGENT_LEG, "1003", caller.id)
