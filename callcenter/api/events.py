"""``/v1/events``: the node's live events as Server-Sent Events.

    curl -N -H "Authorization: Bearer $TOKEN" "$API/v1/events?topic=calls/%2B/state"

Each SSE message has ``event: <kind>`` and a JSON ``data`` (:class:`LiveEvent`).
The first message is a comment (``: subscribed to <topic>``): events
published from then on are delivered. ``topic`` is an MQTT-style pattern
below the bus prefix (``+`` one level, ``#`` the rest; default ``#``).
Supervisors and admins may follow any topic; an agent user only their own
agent's (``agents/<id>/#``, the default for them: offers and the like).
A client too slow to read loses its oldest events (the bus' bounded queue);
a comment every 15 s keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from callcenter.api.auth import Anyone, Context, Role
from callcenter.api.schemas import LiveEvent, Problem
from callcenter.core.event_bus import Subscription
from callcenter.core.events import Event, topic_matches

router = APIRouter(prefix="/v1", tags=["events"])


def topic_pattern(
        user: Anyone,
        topic: Annotated[str | None, Query(description="MQTT-style topic pattern, e.g. "
                                           "calls/+/state or agents/1001/#; default #")] = None,
) -> str:
    """The pattern this user may follow (403 for an agent user asking beyond their own)."""
    if user.role is not Role.AGENT:
        return topic or "#"
    own = f"agents/{user.agent_id}/"
    pattern = topic or own + "#"
    if not pattern.startswith(own):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"agent user {user.name!r} may only follow {own}#")
    return pattern


def live_event(event: Event) -> LiveEvent:
    """The stream's view of a bus event."""
    return LiveEvent(topic=event.topic, kind=event.kind, call_id=event.call_id,
                     node=event.node, at=event.at, data=event.data)


@router.get("/events", response_class=EventSourceResponse,
            responses={200: {"model": LiveEvent,
                             "description": "An endless text/event-stream of LiveEvent data."},
                       401: {"model": Problem, "description": "No valid bearer token."},
                       403: {"model": Problem,
                             "description": "An agent user asked beyond their own agent."}},
            summary="Live events (Server-Sent Events)")
async def live_events(ctx: Context,
                      pattern: Annotated[str, Depends(topic_pattern)]
                      ) -> AsyncIterable[ServerSentEvent]:
    """Events of calls, agents and the node as they happen (see the module doc)."""
    sub = ctx.bus.subscribe(pattern)
    closing = asyncio.ensure_future(ctx.closing.wait())
    following: asyncio.Future[Event] | None = None
    try:
        yield ServerSentEvent(comment=f"subscribed to {pattern}")
        while True:
            following = asyncio.ensure_future(anext(aiter(sub)))
            await asyncio.wait({following, closing}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                return  # the API stops
            try:
                event = following.result()
            except StopAsyncIteration:
                return  # the bus closed
            if topic_matches(pattern, event.topic):
                yield ServerSentEvent(data=live_event(event), event=event.kind)
    finally:
        closing.cancel()
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await following
        if isinstance(sub, Subscription):
            with contextlib.suppress(Exception):
                await sub.aclose()
