"""Choosing agents: skills, the three strategies, failed offers, priorities across queues."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from acd.agent_state import AgentState, AgentStatus
from acd.queue_model import CallQueue
from acd.queues_config import QueueSpec, Strategy
from acd.routing import AgentSnapshot, Offer, Rotation, choose_agent, plan_offers
from tests.acd.clock import T0, ManualClock


def _agent(agent_id: str, idle_since_s: float | None = 0, state: AgentState = AgentState.READY,
           **skills: int) -> AgentSnapshot:
    since = None if idle_since_s is None else T0 + timedelta(seconds=idle_since_s)
    return AgentSnapshot(agent_id, state, skills, since if state is AgentState.READY else None)


def _ids(agent: AgentSnapshot | None) -> str | None:
    return None if agent is None else agent.agent_id


def test_only_ready_agents_with_every_required_skill_at_level_qualify() -> None:
    agents = [
        _agent("1", 0, AgentState.NOT_READY, billing=9),
        _agent("2", 0, AgentState.ON_CALL, billing=9),
        _agent("3", 0, billing=2),
        _agent("4", 5, billing=3, spanish=1),
    ]
    assert _ids(choose_agent(agents, {"billing": 3}, Strategy.LONGEST_IDLE)) == "4"
    assert choose_agent(agents, {"billing": 3, "spanish": 2}, Strategy.LONGEST_IDLE) is None
    assert _ids(choose_agent(agents, {}, Strategy.LONGEST_IDLE)) == "3"
    assert choose_agent([], {}, Strategy.ROUND_ROBIN) is None


def test_longest_idle_takes_the_earliest_ready() -> None:
    agents = [_agent("1", 30), _agent("2", 10), _agent("3", 20), _agent("4", 10)]
    assert _ids(choose_agent(agents, {}, Strategy.LONGEST_IDLE)) == "2"  # tie: file order


def test_best_skill_takes_the_highest_levels_then_longest_idle() -> None:
    agents = [
        _agent("1", 0, billing=5, spanish=5),   # sum 10, min 5
        _agent("2", 50, billing=9, spanish=1),  # sum 10, min 1
        _agent("3", 40, billing=6, spanish=6),  # sum 12, min 6
        _agent("4", 10, billing=7, spanish=5),  # sum 12, min 5
        _agent("5", 30, billing=6, spanish=6),  # as 3, ready earlier
    ]
    required = {"billing": 1, "spanish": 1}
    assert _ids(choose_agent(agents, required, Strategy.BEST_SKILL)) == "5"
    assert _ids(choose_agent(agents[:4], required, Strategy.BEST_SKILL)) == "3"
    assert _ids(choose_agent(agents[:2], required, Strategy.BEST_SKILL)) == "1"
    # Without required skills, best skill is longest idle.
    assert _ids(choose_agent(agents, {}, Strategy.BEST_SKILL)) == "1"


def test_round_robin_rotates_in_file_order_skipping_unavailable_agents() -> None:
    agents = [_agent("1"), _agent("2", state=AgentState.ON_CALL), _agent("3"), _agent("4")]
    picks, last = [], None
    for _ in range(4):
        chosen = choose_agent(agents, {}, Strategy.ROUND_ROBIN, last_agent=last)
        assert chosen is not None
        last = chosen.agent_id
        picks.append(last)
    assert picks == ["1", "3", "4", "1"]
    assert _ids(choose_agent(agents, {}, Strategy.ROUND_ROBIN, last_agent="gone")) == "1"


def test_a_missed_offer_moves_the_caller_to_the_next_agent() -> None:
    agents = [_agent("1", 0), _agent("2", 10)]
    assert _ids(choose_agent(agents, {}, Strategy.LONGEST_IDLE, tried={"1"})) == "2"
    # Nobody else: the agent who missed is tried again rather than nobody.
    assert _ids(choose_agent(agents[:1], {}, Strategy.LONGEST_IDLE, tried={"1"})) == "1"


def test_snapshot_of_a_live_status() -> None:
    clock = ManualClock()
    status = AgentStatus("1001", clock=clock)
    status.log_in(ready=True)
    snap = AgentSnapshot.of(status, {"billing": 4})
    assert snap == AgentSnapshot("1001", AgentState.READY, {"billing": 4}, T0)


def _spec(name: str, **kwargs: Any) -> QueueSpec:
    return QueueSpec(name=name, **kwargs)


def test_plan_serves_the_best_callers_across_queues_one_agent_each() -> None:
    vip, general = _spec("vip", priority=10), _spec("general", skills={"billing": 1})
    q_vip, q_general = CallQueue.from_spec(vip), CallQueue.from_spec(general)
    q_general.join("g1", T0)
    q_general.join("g2", T0 + timedelta(seconds=1))
    q_vip.join("v1", T0 + timedelta(seconds=30), priority=vip.entry_priority())
    agents = [_agent("1", 20, billing=1), _agent("2", 10)]
    offers = plan_offers([(general, q_general.waiting()), (vip, q_vip.waiting())], agents,
                         Rotation())
    # v1 (priority 10) first, to the longest idle agent "2"; then g1 to "1"; g2 waits.
    assert offers == [Offer("v1", "vip", "2"), Offer("g1", "general", "1")]


def test_plan_skips_callers_being_offered_and_waits_when_nobody_fits() -> None:
    spec = _spec("billing", skills={"billing": 5})
    queue = CallQueue.from_spec(spec)
    queue.join("a", T0)
    queue.join("b", T0 + timedelta(seconds=1))
    queue.offer("a", "9")
    assert plan_offers([(spec, queue.waiting())], [_agent("1", billing=5)], Rotation()) == [
        Offer("b", "billing", "1")]
    assert plan_offers([(spec, queue.waiting())], [_agent("1", billing=4)], Rotation()) == []


def test_plan_rotates_round_robin_within_one_plan_and_leaves_the_rotation_alone() -> None:
    spec = _spec("rr", strategy=Strategy.ROUND_ROBIN)
    queue = CallQueue.from_spec(spec)
    for i in range(2):
        queue.join(f"c{i}", T0 + timedelta(seconds=i))
    rotation = Rotation()
    rotation.offered("rr", "1")
    agents = [_agent("1"), _agent("2"), _agent("3")]
    assert plan_offers([(spec, queue.waiting())], agents, rotation) == [
        Offer("c0", "rr", "2"), Offer("c1", "rr", "3")]
    assert rotation.last("rr") == "1"


def test_an_escalated_caller_is_offered_first() -> None:
    spec = _spec("front-desk")
    queue = CallQueue.from_spec(spec)
    queue.join("patient", T0)
    queue.join("upset", T0 + timedelta(seconds=40), priority=spec.entry_priority(escalated=True))
    offers = plan_offers([(spec, queue.waiting())], [_agent("1")], Rotation())
    assert offers == [Offer("upset", "front-desk", "1")]
