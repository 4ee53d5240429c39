"""``/v1/monitors``: supervisors listening in on live calls (listen, whisper, barge).

The engine rings the supervisor's phone (``phone``) or uses their own agent
session, and joins them to the call with the mode's route (who hears whom:
:mod:`callcenter.monitoring`). Each monitor is audited by the node
(who, when, which call, which mode, how long). Supervisors and admins only;
the supervisor named in the audit is the API user (their agent id when the
user is an agent of the agents file, so that their session can be used).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from callcenter.api.auth import Context, Principal, Supervisor
from callcenter.api.context import ApiContext, SupervisionPort
from callcenter.api.schemas import MonitorChange, MonitorRequest, Problem
from callcenter.monitoring import MonitorInfo

router = APIRouter(prefix="/v1/monitors", tags=["monitors"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "Supervisors and admins only."},
    503: {"model": Problem, "description": "This node offers no listening in."},
}
_NOT_FOUND = {"model": Problem, "description": "No such live call, or no such active monitor."}
_CONFLICT = {"model": Problem, "description": "Not possible now: e.g. whisper with no agent "
             "on the call, an ambiguous call id, no phone and no session of the supervisor."}


def _supervision(ctx: ApiContext) -> SupervisionPort:
    if ctx.supervision is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"node {ctx.node} offers no listening in")
    return ctx.supervision


def supervisor_name(user: Principal) -> str:
    """Who the node audits as the supervisor: the user's agent id, else their name."""
    return user.agent_id or user.name


@router.get("", response_model=list[MonitorInfo], responses=_ERRORS,
            summary="Monitors running now")
async def list_monitors(ctx: Context, user: Supervisor) -> list[MonitorInfo]:
    """Every supervisor listening in on a call of this node."""
    return list(_supervision(ctx).active())


@router.post("", response_model=MonitorInfo, status_code=status.HTTP_201_CREATED,
             responses={**_ERRORS, 404: _NOT_FOUND, 409: _CONFLICT,
                        502: {"model": Problem,
                              "description": "The supervisor's phone did not answer."}},
             summary="Listen, whisper or barge into a live call")
async def start_monitor(request: MonitorRequest, ctx: Context,
                        user: Supervisor) -> MonitorInfo:
    """Ring `phone` (or use the supervisor's session) and join the call in `mode`.
    Answers once the supervisor is joined; the monitor's id changes or ends it."""
    return await _supervision(ctx).start(request.call_id, request.mode,
                                         supervisor=supervisor_name(user), phone=request.phone)


@router.patch("/{monitor_id}", response_model=MonitorInfo,
              responses={**_ERRORS, 404: _NOT_FOUND, 409: _CONFLICT},
              summary="Change a monitor's mode")
async def change_monitor(monitor_id: str, change: MonitorChange, ctx: Context,
                         user: Supervisor) -> MonitorInfo:
    """Switch between listen, whisper and barge without leaving the call."""
    return await _supervision(ctx).change_mode(monitor_id, change.mode)


@router.delete("/{monitor_id}", response_model=MonitorInfo,
               responses={**_ERRORS, 404: _NOT_FOUND}, summary="Stop a monitor")
async def stop_monitor(monitor_id: str, ctx: Context, user: Supervisor) -> MonitorInfo:
    """Take the supervisor off the call (their phone is hung up; a session stays)."""
    return await _supervision(ctx).stop(monitor_id)
