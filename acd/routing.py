"""Which agent takes which waiting caller: pure functions over snapshots.

    offers = plan_offers([(spec, queue.waiting()) for spec, queue in queues], agents, rotation)
    for offer in offers:                 # ring / bridge offer.agent_id for offer.call_id
        queue.offer(offer.call_id, offer.agent_id); rotation.offered(offer.queue, offer.agent_id)

An agent can take a queue's caller when ready and holding every required
skill at (at least) its level. Callers are served best first across all
queues: higher priority (the queue's, raised for escalated callers), then
longest waiting. Among the agents who can take a caller, the queue's
strategy picks:

- ``longest_idle``: ready for the longest time (`ready_since` earliest);
- ``best_skill``: highest sum of levels in the required skills, then highest
  lowest level, then longest idle;
- ``round_robin``: the first after the agent last offered a call of this
  queue, in the order the agents are given (the agents file's order).

Agents whose offer this caller already missed come last, so a ring timeout
moves the caller to the next agent; they are tried again only when nobody
else can take the caller. Remaining ties go to the agent given first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from acd.agent_state import AgentState, AgentStatus
from acd.queue_model import WaitingCaller
from acd.queues_config import QueueSpec, Strategy


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """What routing needs to know of an agent at one moment."""

    agent_id: str
    state: AgentState
    skills: Mapping[str, int]
    ready_since: datetime | None = None

    @classmethod
    def of(cls, status: AgentStatus, skills: Mapping[str, int]) -> AgentSnapshot:
        """A snapshot of a live status, with the agent's configured skills."""
        return cls(status.agent_id, status.state, dict(skills), status.ready_since)

    def qualifies(self, required: Mapping[str, int]) -> bool:
        """Whether the agent has every `required` skill at (at least) its level."""
        return all(self.skills.get(skill, 0) >= level for skill, level in required.items())


@dataclass(frozen=True, slots=True)
class Offer:
    """Offer the caller `call_id` of `queue` to `agent_id`."""

    call_id: str
    queue: str
    agent_id: str


class Rotation:
    """The agent last offered a call of each queue, for round robin."""

    def __init__(self) -> None:
        """No queue has offered a call yet."""
        self._last: dict[str, str] = {}

    def last(self, queue: str) -> str | None:
        """The agent last offered a call of `queue`, if any."""
        return self._last.get(queue)

    def offered(self, queue: str, agent_id: str) -> None:
        """Note that `agent_id` was offered a call of `queue`."""
        self._last[queue] = agent_id

    def copy(self) -> Rotation:
        """An independent copy."""
        other = Rotation()
        other._last = dict(self._last)
        return other


def _idle_key(agent: AgentSnapshot) -> tuple[bool, datetime | float]:
    # Agents without a ready time (restored, unknown) count as just ready.
    return (agent.ready_since is None, agent.ready_since or 0.0)


def choose_agent(agents: Sequence[AgentSnapshot], required: Mapping[str, int],
                 strategy: Strategy, *, tried: Collection[str] = (),
                 last_agent: str | None = None) -> AgentSnapshot | None:
    """The agent to offer a caller needing `required` skills, or None if nobody can.

    `agents` in their configured order (round robin follows it); `tried` the
    agents whose offer of this caller failed; `last_agent` the queue's last
    offered agent (round robin only).
    """
    order = {agent.agent_id: index for index, agent in enumerate(agents)}
    able = [a for a in agents if a.state is AgentState.READY and a.qualifies(required)]
    fresh = [a for a in able if a.agent_id not in tried]
    pool = fresh or able
    if not pool:
        return None
    if strategy is Strategy.LONGEST_IDLE:
        return min(pool, key=lambda a: (_idle_key(a), order[a.agent_id]))
    if strategy is Strategy.BEST_SKILL:
        def skill_key(a: AgentSnapshot) -> tuple[int, int, tuple[bool, datetime | float], int]:
            levels = [a.skills.get(skill, 0) for skill in required]
            return (-sum(levels), -min(levels, default=0), _idle_key(a), order[a.agent_id])
        return min(pool, key=skill_key)
    start = order[last_agent] + 1 if last_agent in order else 0
    return min(pool, key=lambda a: (order[a.agent_id] - start) % len(agents))


def _caller_key(caller: WaitingCaller) -> tuple[int, datetime, int]:
    return caller.sort_key()


def plan_offers(queues: Iterable[tuple[QueueSpec, Sequence[WaitingCaller]]],
                agents: Sequence[AgentSnapshot], rotation: Rotation) -> list[Offer]:
    """Every offer to make now: each ready agent to at most one caller, best callers first.

    `queues` pairs each queue's spec with its callers in queue order (e.g.
    `CallQueue.waiting()`); callers already being offered are skipped.
    `rotation` is read, not changed: note each offer made with `Rotation.offered`.
    """
    pending = {spec.name: (spec, [c for c in callers if c.offered_to is None])
               for spec, callers in queues}
    # Agents offered a caller stay in the list (as offered): round robin needs the order.
    available = list(agents)
    rotation = rotation.copy()
    offers: list[Offer] = []
    while True:
        best: tuple[WaitingCaller, QueueSpec, AgentSnapshot] | None = None
        for spec, callers in pending.values():
            if not callers or (best is not None and _caller_key(callers[0]) > _caller_key(
                    best[0])):
                continue
            head = callers[0]
            agent = choose_agent(available, spec.skills, spec.strategy, tried=head.tried,
                                 last_agent=rotation.last(spec.name))
            if agent is not None:
                best = (head, spec, agent)
        if best is None:
            return offers
        head, spec, agent = best
        offers.append(Offer(head.call_id, spec.name, agent.agent_id))
        pending[spec.name][1].pop(0)
        available = [replace(a, state=AgentState.OFFERED) if a.agent_id == agent.agent_id
                     else a for a in available]
        rotation.offered(spec.name, agent.agent_id)
