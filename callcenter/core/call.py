"""What every package knows about a call: direction, state, outcome.

The SIP layer drives the state; the composition root records it in the store
and publishes it as events. The allowed transitions are written down here so
that an impossible one (answered after ended) is a bug caught at once.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallState(enum.StrEnum):
    """Lifecycle of one call leg."""

    RINGING = "ringing"  # inbound offered / outbound dialling
    ANSWERED = "answered"  # media flowing
    ON_HOLD = "on_hold"
    ENDED = "ended"


_ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.RINGING: frozenset({CallState.ANSWERED, CallState.ENDED}),
    CallState.ANSWERED: frozenset({CallState.ON_HOLD, CallState.ENDED}),
    CallState.ON_HOLD: frozenset({CallState.ANSWERED, CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


def can_transition(old: CallState, new: CallState) -> bool:
    """True if a call may move from `old` to `new`."""
    return new in _ALLOWED[old]


class EndReason(enum.StrEnum):
    """Why a call ended; stored in the CDR."""

    CALLER_HANGUP = "caller_hangup"  # the remote party sent BYE/CANCEL
    ENGINE_HANGUP = "engine_hangup"  # we hung up (timeout of the call, flow end)
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"  # refused by us (404, 488, 503 ...)
    FAILED = "failed"  # the peer or network refused (other SIP codes)
    MEDIA_TIMEOUT = "media_timeout"  # the peer's RTP stopped
    NO_MEDIA = "no_media"  # the peer never sent RTP after the answer
    TRANSFERRED = "transferred"
    SHUTDOWN = "shutdown"  # node stopping
    INCOMPLETE = "incomplete"  # the node died during the call


def outcome_for_code(code: int) -> EndReason:
    """Map the final SIP code of an unanswered outbound call to an outcome."""
    if code in (486, 600):
        return EndReason.BUSY
    if code in (408, 480, 487):
        return EndReason.NO_ANSWER
    return EndReason.FAILED


def new_call_id() -> str:
    """A globally unique id for a call (also used in recording names and topics)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallInfo:
    """Identity of a call leg as the SIP layer reports it."""

    call_id: str
    direction: Direction
    from_uri: str
    to_uri: str
    sip_call_id: str = ""
    started_at: datetime = field(default_factory=utcnow)
