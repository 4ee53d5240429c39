"""``/v1/agents``: the agents of the human queue, their live state, and changing it.

An agent user sees and changes only their own agent; supervisors read all;
admins read and change all. A change goes through the human queue's own
controls (:meth:`callcenter.acd_service.AcdService.agent_ready` and its
siblings: the transitions the session's keys make), so it is stored and
published, and routing offers a caller at once to an agent who became ready.
On-demand agents (no session) also log in and out here.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from acd.agent_state import AgentState, IllegalTransition
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
                              "description": "The agent's state does not allow it now, or "
                                             "a session agent asked to log in or out."},
                        422: {"model": Problem, "description": "Unknown not-ready reason."}},
             summary="Ready, not ready (with a reason), wrap-up done, log in or out")
async def change_state(agent_id: str, change: AgentStateChange, ctx: Context,
                       user: Anyone) -> Agent:
    """What the agent session's keys do: `ready`, `not_ready` with one of the agents
    file's reasons, `wrap_up_done`; and for on-demand agents `log_in` (not ready,
    then `ready` to be rung) and `log_out`. The agent themself or an admin."""
    acd = acd_of(ctx)
    forbid_unless_own(user, agent_id, supervisor_may=False)
    _known(acd, agent_id)
    reasons = sorted(set(acd.config.session.not_ready_reasons.values()))
    if change.action is AgentAction.NOT_READY and change.reason not in reasons:
        raise HTTPException(422,
                            f"not_ready needs a reason, one of: {', '.join(reasons)}")
    try:
        _apply(acd, agent_id, change)
    except (IllegalTransition, ValueError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return describe(acd, agent_id)


def _apply(acd: AcdService, agent_id: str, change: AgentStateChange) -> None:
    action = change.action
    if action is AgentAction.READY:
        acd.agent_ready(agent_id)
    elif action is AgentAction.NOT_READY:
        assert change.reason is not None
        acd.agent_not_ready(agent_id, change.reason)
    elif action is AgentAction.WRAP_UP_DONE:
        state = acd.statuses[agent_id].state
        if state is not AgentState.WRAP_UP:
            raise IllegalTransition(agent_id, state, "finish wrap-up")
        acd.agent_ready(agent_id)
    elif action is AgentAction.LOG_IN:
        acd.agent_log_in(agent_id)
    else:
        acd.agent_log_out(agent_id)
