"""What an agent is handed with a caller: why, what the bot learned, what was said.

The dialog says why it hands a caller over (:class:`dialog.ports.Handover`:
reason, scores, state, intent, variables); the conversation adds the caller's
number and the bot transcript so far (:meth:`Handoff.of`). The queue keeps it
with the caller; when routing offers the caller to an agent, the offer is
published on the node's event bus with topic ``agents/<agent id>/offer``
(MQTT: ``<prefix>/agents/<id>/offer``) and stored as the call's ``offer``
event (:func:`offer_event`), and the agent's whisper says in a few words why
the caller comes (:meth:`Handoff.whisper`).

An offer's JSON (besides the event envelope: kind, call_id, node, at)::

    {"agent": "1001", "queue": "front-desk", "caller_number": "5551234",
     "reason": "tone", "scores": {"tone": [0.71], "utterances": [3], ...},
     "state": "ask_day", "intent": "reschedule",
     "variables": {"appointment": {"doctor": "Dr. Patel", ...}, ...},
     "transcript": [{"speaker": "engine", "text": "...", "state": "greet"}, ...],
     "whisper": "Escalated: caller upset; wants to reschedule."}
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.events import Event
from dialog.ports import Handover, Turn

TRANSCRIPT_TURNS = 40  # the offer carries at most this many of the last turns

_WHY = {"tone": "Escalated: caller upset", "pace": "Escalated: caller upset",
        "words": "Escalated: caller upset", "asked": "Caller asked for a person",
        "dtmf": "Caller asked for a person", "no_match": "Escalated: the bot did not understand",
        "no_input": "Escalated: no answer from the caller",
        "error": "Escalated after a system fault"}


def json_safe(value: Any) -> Any:
    """`value` with dates as ISO text, enums as their value, mappings and
    sequences as dicts and lists: what an event's JSON can hold."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def caller_whisper(number: str, queue: str) -> str:
    """The plain whisper: who calls (digit by digit), and which queue."""
    digits = " ".join(ch for ch in number if ch.isdigit())
    where = _spoken(queue)
    return f"Caller from {digits}, queue {where}." if digits else f"Caller, queue {where}."


def _spoken(name: str) -> str:
    return name.replace("_", " ").replace("-", " ")


@dataclass(frozen=True)
class Handoff:
    """A caller handed to the human queue, and why."""

    caller_number: str
    reason: str | None = None
    state: str | None = None
    intent: str | None = None
    scores: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    transcript: Sequence[Mapping[str, Any]] = ()
    priority_boost: int | None = None
    """Added to the queue's priority (None: the queue's own escalation boost)."""

    @classmethod
    def of(cls, caller_number: str, why: Handover | None, turns: Sequence[Turn],
           priority_boost: int | None = None) -> Handoff:
        """From the dialog's reason and the conversation's turns so far."""
        transcript = [{"speaker": str(t.speaker), "text": t.text, "state": t.state,
                       **({"intent": t.intent} if t.intent else {})}
                      for t in turns[-TRANSCRIPT_TURNS:]]
        if why is None:
            return cls(caller_number, transcript=transcript, priority_boost=priority_boost)
        return cls(caller_number, reason=why.reason, state=why.state, intent=why.intent,
                   scores=json_safe(why.scores), variables=json_safe(why.variables),
                   transcript=transcript, priority_boost=priority_boost)

    def whisper(self, queue: str) -> str:
        """What the agent hears first, short: why the caller comes, and what
        they want ("Escalated: caller upset; wants to reschedule. Queue front desk.");
        for a caller the flow sends without a reason, who calls (:func:`caller_whisper`)."""
        if self.reason not in _WHY:
            return caller_whisper(self.caller_number, queue)
        why = _WHY[self.reason]
        if self.intent:
            why += f"; wants to {_spoken(self.intent)}"
        elif self.state:
            why += f"; at {_spoken(self.state)}"
        return f"{why}. Queue {_spoken(queue)}."

    def event_data(self) -> dict[str, Any]:
        """The reason and context as JSON-able data (for call events)."""
        return {"reason": self.reason, "scores": dict(self.scores), "state": self.state,
                "intent": self.intent}


def offer_event(handoff: Handoff, *, agent_id: str, queue: str, call_id: str, node: str,
                whisper: str | None) -> Event:
    """The offer of a caller to `agent_id`, topic ``agents/<agent_id>/offer``."""
    data: dict[str, Any] = {
        "agent": agent_id, "queue": queue, "caller_number": handoff.caller_number,
        **handoff.event_data(), "variables": dict(handoff.variables),
        "transcript": [dict(t) for t in handoff.transcript], "whisper": whisper}
    return Event(kind="offer", data=data, call_id=call_id, node=node,
                 subject=f"agents/{agent_id}")
