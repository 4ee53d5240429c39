"""``/v1/calls``: the node's live calls, one call, and a call's stored events.

Live calls come from the node's call registry (ids or unique id prefixes,
as the logs print them); stored events from the store, for ended calls too.
Supervisors and admins only.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from callcenter.api.auth import Context, Supervisor
from callcenter.api.context import ApiContext
from callcenter.api.schemas import Problem, StoredEvent
from callcenter.call_registry import CallRegistry, LiveCallInfo

router = APIRouter(prefix="/v1/calls", tags=["calls"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "Supervisors and admins only."},
}
_ONE: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    404: {"model": Problem, "description": "No such call."},
    409: {"model": Problem, "description": "The id prefix fits several calls."},
}


def _registry(ctx: ApiContext) -> CallRegistry:
    if ctx.calls is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"node {ctx.node} keeps no call registry")
    return ctx.calls


@router.get("", response_model=list[LiveCallInfo], responses=_ERRORS,
            summary="The node's live calls")
async def list_calls(ctx: Context, user: Supervisor) -> list[LiveCallInfo]:
    """Every live call leg, oldest first: callers, agents' and supervisors' phones,
    with what each is doing (bot, queued, with an agent...)."""
    return _registry(ctx).snapshot()


@router.get("/{call_id}", response_model=LiveCallInfo, responses=_ONE,
            summary="One live call")
async def get_call(call_id: str, ctx: Context, user: Supervisor) -> LiveCallInfo:
    """A live call by id or unique id prefix (404 once it has ended)."""
    return _registry(ctx).info(call_id)


@router.get("/{call_id}/events", response_model=list[StoredEvent], responses=_ONE,
            summary="A call's stored events")
async def call_events(call_id: str, ctx: Context, user: Supervisor) -> list[StoredEvent]:
    """The stored events of a call, live or ended, oldest first (as `callcenter events`)."""
    matches = await ctx.store.find_calls(call_id)
    if not matches:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call with id {call_id!r}")
    if len(matches) > 1:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"{len(matches)} calls start with {call_id!r}; give more of the id")
    records = await ctx.store.events_for(matches[0].id)
    return [StoredEvent(id=r.id, call_id=r.call_id, at=r.at, kind=r.kind, data=r.data)
            for r in records]
