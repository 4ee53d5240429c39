"""The call-control port for outbound calls: dial a number, run the call, say how it went.

``outbound`` (the campaign scheduler) dials through this port and never sees
SIP; the composition root implements it over the SIP node
(``callcenter.campaign_calls``), tests with a fake. One `place` is one
attempt: it returns when the call has ended, or when it could not be set up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class DialOutcome(enum.StrEnum):
    """How one outbound attempt went."""

    ANSWERED = "answered"  # a person (or the flow's caller) picked up; the flow ran
    BUSY = "busy"  # 486/600
    NO_ANSWER = "no_answer"  # rang out (408/480/487, or our ring timeout)
    MACHINE = "machine"  # an answering machine took the call (the reason says more)
    OPTED_OUT = "opted_out"  # the callee asked not to be called again (now on the DNC list)
    FAILED = "failed"  # any other refusal or error
    NOT_PLACED = "not_placed"  # no INVITE went out (no free slot): not an attempt


@dataclass(frozen=True)
class OutboundCall:
    """What to dial, through which trunk, and what to run when someone answers."""

    number: str  # E.164
    trunk: str
    ring_timeout_s: float
    flow: str  # the dialog flow for a live answer
    #: What the flow may read: the contact's fields, name, and the campaign's facts.
    contact: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DialResult:
    """The end of one attempt."""

    outcome: DialOutcome
    sip_code: int | None = None
    call_id: str | None = None  # the CDR's id, when a call was set up
    detail: str = ""
    #: Stored as the attempt's reason: on a machine, ``machine_message_left`` or
    #: why it was not (``machine_hung_up``, ``machine_no_message``).
    reason: str | None = None
    #: On a live answer: what the flow reached (confirmed, cancelled, rescheduled,
    #: opted_out ...) and its detail (a reschedule's new time), when the
    #: engine's first words reached the callee, and whether that was later
    #: than 2 s after the answer (an abandoned call). None: no live person.
    result: str | None = None
    result_detail: str | None = None
    greeted_at: datetime | None = None
    abandoned: bool | None = None


class OutboundCalls(Protocol):
    """Places outbound calls on this node."""

    async def free_slots(self) -> int:
        """How many more calls this node could place now."""
        ...

    async def place(self, call: OutboundCall) -> DialResult:
        """Dial, ring at least ``call.ring_timeout_s``, run the flow on an answer,
        and return once the call has ended. Never raises for the callee's or
        the network's refusal: that is the result's outcome."""
        ...

    def cannot_dial(self, caller_id: str, trunk: str, flow: str) -> str | None:
        """Why this node cannot place calls with ``caller_id`` through ``trunk``
        running ``flow`` (unknown trunk, another caller ID, no such flow), or None."""
        ...
