"""Events: what happened to a call, as published to the event bus.

An event has a kind (``state``, ``dtmf``, ``recording`` ...), the call it
belongs to, a JSON-able payload and a time. Its topic below the configured
prefix is ``calls/<call_id>/<kind>`` (``node/<node>/<kind>`` for node-wide
events, ``<subject>/<kind>`` for an event addressed to someone, such as
``agents/1001/offer``), so a subscriber can follow one call or all of them
with wildcards.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from callcenter.core.call import utcnow


@dataclass(frozen=True)
class Event:
    """One thing that happened, ready to be published."""

    kind: str
    data: dict[str, Any]
    call_id: str | None = None
    node: str | None = None
    at: datetime = field(default_factory=utcnow)
    subject: str | None = None
    """Who the event is for, as topic levels (``agents/1001``); None: the call or node."""

    @property
    def topic(self) -> str:
        """Topic below the bus prefix."""
        if self.subject is not None:
            return f"{self.subject}/{self.kind}"
        if self.call_id is not None:
            return f"calls/{self.call_id}/{self.kind}"
        return f"node/{self.node or 'unknown'}/{self.kind}"

    def to_json(self) -> str:
        """The payload as published: the data plus kind, ids and an ISO time."""
        body = {"kind": self.kind, "call_id": self.call_id, "node": self.node,
                "at": self.at.isoformat(), **self.data}
        if self.subject is not None:
            body["subject"] = self.subject
        return json.dumps(body, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, payload: str | bytes) -> Event:
        """The event whose :meth:`to_json` made `payload`.

        Data keys named like the envelope (``kind``, ``call_id``, ``node``,
        ``at``, ``subject``) do not survive the round trip, and values that JSON cannot
        hold come back as strings. Raises ``ValueError`` for anything else
        than such an object.
        """
        body = json.loads(payload)
        if not isinstance(body, dict):
            raise ValueError("event payload is not a JSON object")
        kind, call_id, node, at, subject = (
            body.pop(k, None) for k in ("kind", "call_id", "node", "at", "subject"))
        if not isinstance(kind, str) or not isinstance(at, str):
            raise ValueError("event payload lacks a text 'kind' or 'at'")
        if not all(v is None or isinstance(v, str) for v in (call_id, node, subject)):
            raise ValueError("event 'call_id', 'node' and 'subject' must be text or null")
        return cls(kind=kind, data=body, call_id=call_id, node=node,
                   at=datetime.fromisoformat(at), subject=subject)


class EventBus(Protocol):
    """Where events go. Publishing never blocks a call and never raises for
    a broker that is away; a backend buffers (bounded) or drops instead."""

    async def start(self) -> None:
        """Connect (or start reconnecting in the background) and return."""

    async def publish(self, event: Event) -> None:
        """Queue `event` for delivery to every subscriber."""

    def subscribe(self, pattern: str = "#") -> AsyncIterator[Event]:
        """Events whose topic matches an MQTT-style `pattern` (``+``/``#``)."""

    def watched(self, topic: str) -> bool:
        """Whether an event on `topic` may reach anyone now: news that costs
        work to make (a partial transcript) is made only then. A bus whose
        subscribers it cannot see answers True."""

    async def close(self) -> None:
        """Deliver what is queued if possible, then disconnect."""


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard matching: ``+`` one level, ``#`` the rest."""
    pat, top = pattern.split("/"), topic.split("/")
    for i, part in enumerate(pat):
        if part == "#":
            return True
        if i >= len(top) or (part != "+" and part != top[i]):
            return False
    return len(pat) == len(top)
