"""The control API's application: one FastAPI app over one node.

    app = create_app(ApiContext(node="node-1", store=store, bus=bus, acd=acd, ...))

Routes are versioned under ``/v1``; the OpenAPI document is at
``/openapi.json`` and readable docs at ``/docs`` and ``/redoc`` (their scripts
served by the node itself). Every ``/v1`` route needs a
bearer token (:mod:`callcenter.api.auth`); the docs do not.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from callcenter.api import agents, calls, errors, events, monitors, queues
from callcenter.api.auth import Anyone
from callcenter.api.context import ApiContext
from callcenter.api.schemas import Me, Problem

DESCRIPTION = """\
The control API of one call-center node: agents and their states, queues'
live figures, live calls, supervisors listening in (listen, whisper, barge),
and the node's live events as Server-Sent Events.

Authenticate with `Authorization: Bearer <token>`; tokens come from
`callcenter users add NAME --role agent|supervisor|admin` (shown once).
Agents see and change only their own state; supervisors read everything
and listen in; admins may do everything. Errors are `{"detail": "..."}`
with 401 (no or bad token), 403 (role), 404, 409 (not possible now),
422 (bad request), 502 (a supervisor's phone did not answer), 503 (this
node lacks the part asked for).
"""

_me = APIRouter(prefix="/v1", tags=["users"])


@_me.get("/me", response_model=Me,
         responses={401: {"model": Problem, "description": "No valid bearer token."}},
         summary="Who the token belongs to")
async def me(user: Anyone) -> Me:
    """The user, role and agent id behind the bearer token."""
    return Me(name=user.name, role=user.role.value, agent_id=user.agent_id)


def create_app(ctx: ApiContext) -> FastAPI:
    """The API over the node `ctx` describes."""
    # The docs pages' scripts come from the installed package: no CDN, also offline.
    app = FastAPIOffline(title="callcenter control API", version="1", description=DESCRIPTION)
    app.state.ctx = ctx
    errors.install(app)
    for router in (_me, agents.router, queues.router, calls.router, monitors.router,
                   events.router):
        app.include_router(router)
    return app
