"""``/v1/queues``: each queue's live figures on this node (supervisors and admins)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from acd.agent_state import AgentState
from callcenter.acd_service import AcdService
from callcenter.api.agents import acd_of
from callcenter.api.auth import Context, Supervisor
from callcenter.api.schemas import Problem, Queue, WaitingCaller

router = APIRouter(prefix="/v1/queues", tags=["queues"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "Supervisors and admins only."},
    503: {"model": Problem, "description": "This node runs no human queue."},
}


def figures(acd: AcdService, name: str) -> Queue:
    """The live figures of queue `name`: who waits, for how long, and its agents by state."""
    spec, queue = acd.config.queues[name], acd.queues[name]
    now = acd.clock()
    callers = [WaitingCaller(position=i, call_id=c.call_id, number=c.number,
                             priority=c.priority, waited_s=round(c.waited_s(now), 1),
                             offered_to=c.offered_to)
               for i, c in enumerate(queue.waiting(), start=1)]
    agents = dict.fromkeys(AgentState, 0)
    for agent_id, agent in acd.config.agents.items():
        if agent.has_skills(spec.skills):
            agents[acd.statuses[agent_id].state] += 1
    longest = max((c.waited_s for c in callers), default=None)
    return Queue(name=name, priority=spec.priority, strategy=spec.strategy.value,
                 skills=dict(spec.skills), waiting=len(callers), longest_wait_s=longest,
                 expected_wait_s=acd.expected_wait(spec, len(callers) + 1), agents=agents,
                 max_length=spec.max_length, max_wait_s=spec.max_wait_s, callers=callers)


@router.get("", response_model=list[Queue], responses=_ERRORS,
            summary="Every queue's live figures")
async def list_queues(ctx: Context, user: Supervisor) -> list[Queue]:
    """Waiting callers, longest wait, expected wait and agents by state, per queue."""
    acd = acd_of(ctx)
    return [figures(acd, name) for name in acd.config.queues]


@router.get("/{name}", response_model=Queue,
            responses={**_ERRORS, 404: {"model": Problem, "description": "No such queue."}},
            summary="One queue's live figures")
async def get_queue(name: str, ctx: Context, user: Supervisor) -> Queue:
    """One queue, with its waiting callers in order."""
    acd = acd_of(ctx)
    if name not in acd.config.queues:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no queue {name!r}; queues: {', '.join(acd.config.queues)}")
    return figures(acd, name)
