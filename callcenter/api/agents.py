"""``/v1/agents``: the agents of the human queue, their live state, and changing it.

An agent user sees and changes only their own agent; supervisors read all;
admins read and change all. A change goes through the same transitions as
the agent session's keys (:class:`acd.agent_state.AgentStatus`) and is
stored and published by :meth:`callcenter.acd_service.AcdService.change`,
so routing offers a caller at once to an agent who became ready.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from acd.agent_state import IllegalTransition, StateChange
from callcenter.acd_service import AcdService
from callcenter.api.auth import Anyone, Context, Role, forbid_unless_own
from callcenter.api.context import ApiContext
from callcenter.api.schemas import Agent, AgentAction, AgentStateChange, Problem

router = APIRouter(prefix="/v1/agents", tags=["agents"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "The user may not see or change this agent."},
    503: {"model": Problem, "description": "This node runs no human queue."},
}


def acd_of(ctx: ApiContext) -> AcdService:
    """The node's human queue, or 503."""
    if ctx.acd is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"node {ctx.node} runs no human queue (acd.enabled is false)")
    return ctx.acd


def describe(acd: AcdService, agent_id: str) -> Agent:
    """The live view of one configured agent."""
    spec, state = acd.config.agents[agent_id], acd.statuses[agent_id]
    return Agent(id=agent_id, name=spec.name, mode=spec.mode.value, state=state.state,
                 reason=state.reason, since=state.since, call_id=state.call_id,
                 wrap_up_ends_at=state.wrap_up_ends_at, session=agent_id in acd.sessions,
                 skills=dict(spec.skills),
                 queues=[name for name, queue in acd.config.queues.items()
                         if spec.has_skills(queue.skills)])


def _known(acd: AcdService, agent_id: str) -> None:
    if agent_id not in acd.config.agents:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {agent_id!r}")


@router.get("", response_model=list[Agent], responses=_ERRORS,
            summary="Agents and their live state")
async def list_agents(ctx: Context, user: Anyone) -> list[Agent]:
    """Every configured agent with state, since when, call and queues; an agent user
    gets only their own."""
    acd = acd_of(ctx)
    if user.role is Role.AGENT:
        return [describe(acd, a) for a in acd.config.agents if user.is_agent(a)]
    return [describe(acd, a) for a in acd.config.agents]


@router.get("/{agent_id}", response_model=Agent,
            responses={**_ERRORS, 404: {"model": Problem, "description": "No such agent."}},
            summary="One agent's live state")
async def get_agent(agent_id: str, ctx: Context, user: Anyone) -> Agent:
    """One agent (an agent user: only their own)."""
    acd = acd_of(ctx)
    forbid_unless_own(user, agent_id, supervisor_may=True)
    _known(acd, agent_id)
    return describe(acd, agent_id)


@router.post("/{agent_id}/state", response_model=Agent,
             responses={**_ERRORS,
                        404: {"model": Problem, "description": "No such agent."},
                        409: {"model": Problem,
                              "description": "The agent's state does not allow it now."},
                        422: {"model": Problem, "description": "Unknown not-ready reason."}},
             summary="Ready, not ready (with a reason) or wrap-up done")
async def change_state(agent_id: str, change: AgentStateChange, ctx: Context,
                       user: Anyone) -> Agent:
    """What the agent session's keys do: `ready`, `not_ready` with one of the agents
    file's reasons, `wrap_up_done`. The agent themself or an admin."""
    acd = acd_of(ctx)
    forbid_unless_own(user, agent_id, supervisor_may=False)
    _known(acd, agent_id)
    reasons = sorted(set(acd.config.session.not_ready_reasons.values()))
    if change.action is AgentAction.NOT_READY and change.reason not in reasons:
        raise HTTPException(422,
                            f"not_ready needs a reason, one of: {', '.join(reasons)}")
    acd.change(_transition(acd, agent_id, change))
    return describe(acd, agent_id)


def _transition(acd: AcdService, agent_id: str, change: AgentStateChange) -> StateChange:
    agent = acd.statuses[agent_id]
    try:
        if change.action is AgentAction.READY:
            return agent.ready()
        if change.action is AgentAction.NOT_READY:
            assert change.reason is not None
            return agent.not_ready(change.reason)
        return agent.wrap_up_done()
    except IllegalTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
