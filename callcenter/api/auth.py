"""Who is calling the API: bearer tokens of API users, and what each role may do.

Roles (``callcenter users add NAME --role R``):

- ``agent``: their own agent (``--agent ID``): read it, set it ready / not
  ready / wrap-up done, follow its events (``agents/<id>/...``);
- ``supervisor``: read everything (agents, queues, calls, events) and listen
  in (monitors);
- ``admin``: everything, including other agents' states.

No token, a malformed one or one nobody has (or a removed user's): 401 with
``WWW-Authenticate: Bearer``. A role that may not do it: 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.api.context import ApiContext
from callcenter.api.tokens import token_hash
from callcenter.core.errors import StoreError


class Role(StrEnum):
    """An API user's role (``api_users.role``)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The user a request is made by."""

    name: str
    role: Role
    agent_id: str | None = None

    def is_agent(self, agent_id: str) -> bool:
        """Whether this user is agent `agent_id` (an agent user's own agent)."""
        return self.agent_id is not None and self.agent_id == agent_id


_bearer = HTTPBearer(auto_error=False, scheme_name="token",
                     description="A token from `callcenter users add NAME --role ROLE`.")


def context(request: Request) -> ApiContext:
    """The node the API serves (set by the app factory)."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Context = Annotated[ApiContext, Depends(context)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def principal(
        ctx: Context,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The active API user whose bearer token came with the request (401 otherwise)."""
    if credentials is None:
        raise _unauthorized("a bearer token is needed (Authorization: Bearer <token>)")
    users = ctx.store.store.api_users
    try:
        user = await asyncio.to_thread(users.by_token_hash, token_hash(credentials.credentials))
    except StoreError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"cannot check the token now: {exc}") from None
    if user is None:
        raise _unauthorized("unknown or removed token")
    return Principal(user.name, Role(user.role), user.agent_id)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency letting only users with one of `roles` through (403 for others)."""
    allowed = ", ".join(r.value for r in roles)

    async def check(user: Annotated[Principal, Depends(principal)]) -> Principal:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"user {user.name!r} ({user.role.value}) may not do this; "
                                f"needs {allowed}")
        return user

    return check


#: Any user with a valid token.
Anyone = Annotated[Principal, Depends(principal)]
#: Supervisors and admins: read everything, listen in.
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]


def forbid_unless_own(user: Principal, agent_id: str, *, supervisor_may: bool) -> None:
    """403 unless `user` is agent `agent_id`, an admin, or (if `supervisor_may`) a supervisor."""
    if user.role is Role.ADMIN or user.is_agent(agent_id):
        return
    if supervisor_may and user.role is Role.SUPERVISOR:
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN,
                        f"user {user.name!r} ({user.role.value}) may not act for agent "
                        f"{agent_id}")
