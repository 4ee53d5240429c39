"""The callers waiting in one queue: order, position, limits, and how each left.

    queue = CallQueue.from_spec(spec)
    caller = queue.join("c0ffee", at=now, priority=spec.entry_priority(), number="+1555...")
    if caller is None:                            # full: apply spec.at_limit at once
        exit = queue.refuse("c0ffee", now, spec.at_limit.action, number="+1555...")
    queue.position("c0ffee")                      # 1 = next
    queue.next_to_route()                         # the first caller not being offered
    queue.offer("c0ffee", "1001"); queue.answered("c0ffee", "1001", at=later)
    queue.abandoned("c0ffee", at=later)           # hung up: QueueExit with wait_s

Order: higher priority first, then earlier arrival (ties in join order).
Raising a caller's priority (`raise_priority`, e.g. an escalated caller)
moves them ahead of everyone below the new priority. A caller being offered
to an agent keeps their place until the agent answers or the offer fails;
meanwhile routing passes them over. Every way out returns a `QueueExit`,
what the store keeps in ``queue_entries``. Pure and synchronous: the
wiring calls it from one thread (the event loop) with its own clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from acd.queues_config import QueueSpec


class Outcome(StrEnum):
    """How a caller left a queue; the values are what the store keeps."""

    ANSWERED = "answered"  # an agent took the call
    ABANDONED = "abandoned"  # the caller hung up while waiting
    TIMEOUT = "timeout"  # max wait reached; told goodbye
    FULL = "full"  # max length reached on arrival; told goodbye
    CALLBACK = "callback"  # left a callback request (a key, or at a limit)
    TRANSFERRED = "transferred"  # sent on at a limit
    VOICEMAIL = "voicemail"  # left a message at a limit


class Limit(StrEnum):
    """Which limit of the queue decided a caller's outcome."""

    MAX_WAIT = "max_wait"
    MAX_LENGTH = "max_length"


class CallbackReason(StrEnum):
    """Why a callback was requested; the values are what the store keeps."""

    CALLER_KEY = "caller_key"  # the caller pressed the queue's callback key
    MAX_WAIT = "max_wait"
    MAX_LENGTH = "max_length"


_LIMIT_OUTCOMES = {"callback": Outcome.CALLBACK, "transfer": Outcome.TRANSFERRED,
                   "voicemail": Outcome.VOICEMAIL}


def limit_outcome(action: str, limit: Limit) -> Outcome:
    """The outcome of applying the at-limit `action` (callback, transfer, voicemail, goodbye)."""
    if action == "goodbye":
        return Outcome.TIMEOUT if limit is Limit.MAX_WAIT else Outcome.FULL
    try:
        return _LIMIT_OUTCOMES[action]
    except KeyError:
        raise ValueError(f"unknown at-limit action {action!r}") from None


@dataclass(slots=True)
class WaitingCaller:
    """One caller in a queue (mutable: the queue updates it)."""

    call_id: str
    queue: str
    priority: int
    entered_at: datetime
    seq: int  # join order, breaking ties of equal priority and arrival
    number: str | None = None  # the caller's number, for a callback
    offered_to: str | None = None  # the agent being offered this caller, if any
    tried: set[str] = field(default_factory=set)  # agents whose offer failed

    def sort_key(self) -> tuple[int, datetime, int]:
        """Higher priority first, then earlier arrival, then join order."""
        return (-self.priority, self.entered_at, self.seq)

    def waited_s(self, now: datetime) -> float:
        """Seconds waited by `now`."""
        return max(0.0, (now - self.entered_at).total_seconds())


@dataclass(frozen=True, slots=True)
class QueueExit:
    """How and when a caller left a queue, as the store records it."""

    call_id: str
    queue: str
    priority: int
    entered_at: datetime
    left_at: datetime
    outcome: Outcome
    wait_s: float
    agent_id: str | None = None
    limit: Limit | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A request to call a caller back, as the store records it."""

    number: str
    queue: str
    reason: CallbackReason
    requested_at: datetime
    call_id: str | None = None


class CallQueue:
    """The callers waiting in one queue, in order."""

    def __init__(self, name: str, *, max_length: int | None = None,
                 max_wait_s: float | None = None) -> None:
        """An empty queue; `None` limits mean no limit."""
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        if max_wait_s is not None and max_wait_s <= 0:
            raise ValueError(f"max_wait_s must be positive, got {max_wait_s}")
        self.name = name
        self.max_length = max_length
        self.max_wait_s = max_wait_s
        self._callers: list[WaitingCaller] = []  # kept sorted by sort_key
        self._by_id: dict[str, WaitingCaller] = {}
        self._seq = 0

    @classmethod
    def from_spec(cls, spec: QueueSpec) -> CallQueue:
        """The queue described by `spec`, empty."""
        return cls(spec.name, max_length=spec.max_length, max_wait_s=spec.max_wait_s)

    def __len__(self) -> int:
        return len(self._callers)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._by_id

    @property
    def is_full(self) -> bool:
        """Whether one more caller would exceed max_length."""
        return self.max_length is not None and len(self._callers) >= self.max_length

    def waiting(self) -> list[WaitingCaller]:
        """The callers in order, first (next to be served) first."""
        return list(self._callers)

    def get(self, call_id: str) -> WaitingCaller:
        """The waiting caller `call_id`; KeyError if not in this queue."""
        try:
            return self._by_id[call_id]
        except KeyError:
            raise KeyError(f"call {call_id} is not waiting in queue {self.name!r}") from None

    def join(self, call_id: str, at: datetime, *, priority: int = 0,
             number: str | None = None) -> WaitingCaller | None:
        """Add a caller; None (and nothing added) when the queue is full."""
        if call_id in self._by_id:
            raise ValueError(f"call {call_id} is already waiting in queue {self.name!r}")
        if self.is_full:
            return None
        self._seq += 1
        caller = WaitingCaller(call_id, self.name, priority, at, self._seq, number)
        bisect.insort(self._callers, caller, key=WaitingCaller.sort_key)
        self._by_id[call_id] = caller
        return caller

    def refuse(self, call_id: str, at: datetime, action: str, *, priority: int = 0,
               number: str | None = None) -> QueueExit:
        """The exit of a caller turned away because the queue is full (never waited)."""
        return QueueExit(call_id, self.name, priority, at, at,
                         limit_outcome(action, Limit.MAX_LENGTH), 0.0, None, Limit.MAX_LENGTH,
                         number)

    def position(self, call_id: str) -> int:
        """1-based place of the caller: 1 is served next."""
        caller = self.get(call_id)
        return self._callers.index(caller) + 1

    def raise_priority(self, call_id: str, priority: int) -> int:
        """Give a caller `priority` if higher than theirs; returns the new position."""
        caller = self.get(call_id)
        if priority > caller.priority:
            self._callers.remove(caller)
            caller.priority = priority
            bisect.insort(self._callers, caller, key=WaitingCaller.sort_key)
        return self.position(call_id)

    def next_to_route(self) -> WaitingCaller | None:
        """The first caller not already being offered to an agent."""
        return next((c for c in self._callers if c.offered_to is None), None)

    def offer(self, call_id: str, agent_id: str) -> None:
        """The caller is being offered to `agent_id` (they keep their place)."""
        caller = self.get(call_id)
        if caller.offered_to is not None:
            raise ValueError(f"call {call_id} is already offered to agent {caller.offered_to}")
        caller.offered_to = agent_id

    def offer_failed(self, call_id: str) -> None:
        """The offer was not answered: routable again, that agent tried last from now on."""
        caller = self.get(call_id)
        if caller.offered_to is not None:
            caller.tried.add(caller.offered_to)
            caller.offered_to = None

    def leave(self, call_id: str, at: datetime, outcome: Outcome, *,
              agent_id: str | None = None, limit: Limit | None = None) -> QueueExit:
        """Remove a caller for `outcome`; the exit records how long they waited."""
        caller = self.get(call_id)
        self._callers.remove(caller)
        del self._by_id[call_id]
        return QueueExit(call_id, self.name, caller.priority, caller.entered_at, at, outcome,
                         caller.waited_s(at), agent_id, limit, caller.number)

    def answered(self, call_id: str, agent_id: str, at: datetime) -> QueueExit:
        """An agent took the caller."""
        return self.leave(call_id, at, Outcome.ANSWERED, agent_id=agent_id)

    def abandoned(self, call_id: str, at: datetime) -> QueueExit:
        """The caller hung up while waiting."""
        return self.leave(call_id, at, Outcome.ABANDONED)

    def timed_out(self, call_id: str, at: datetime, action: str) -> QueueExit:
        """Max wait reached and the at-limit `action` applied.

        For a callback left at max wait use `callback(..., CallbackReason.MAX_WAIT)`;
        a caller who declines the offered callback is told goodbye (`action` goodbye).
        """
        if action == "callback":
            raise ValueError("a callback at max wait is left with callback(), which "
                             "also makes the request")
        return self.leave(call_id, at, limit_outcome(action, Limit.MAX_WAIT),
                          limit=Limit.MAX_WAIT)

    def callback(self, call_id: str, at: datetime,
                 reason: CallbackReason = CallbackReason.CALLER_KEY
                 ) -> tuple[QueueExit, CallbackRequest]:
        """The caller left a callback request (their key, or at max wait).

        The caller must have a number; ValueError otherwise (offer no callback then).
        """
        caller = self.get(call_id)
        if not caller.number:
            raise ValueError(f"call {call_id} has no number to call back")
        limit = Limit.MAX_WAIT if reason is CallbackReason.MAX_WAIT else None
        exit_ = self.leave(call_id, at, Outcome.CALLBACK, limit=limit)
        return exit_, CallbackRequest(caller.number, self.name, reason, at, call_id)

    def deadline(self, call_id: str) -> datetime | None:
        """When the caller reaches max wait; None without a limit."""
        if self.max_wait_s is None:
            return None
        return self.get(call_id).entered_at + timedelta(seconds=self.max_wait_s)

    def overdue(self, now: datetime) -> list[WaitingCaller]:
        """Callers not being offered who have waited max_wait_s or more by `now`, in order."""
        if self.max_wait_s is None:
            return []
        return [c for c in self._callers
                if c.offered_to is None and c.waited_s(now) >= self.max_wait_s]
