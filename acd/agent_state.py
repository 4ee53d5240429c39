"""The state of one agent, as pure transitions stamped by an injectable clock.

    status = AgentStatus("1001", clock=lambda: datetime.now(UTC), max_misses=2)
    status.log_in()                  # -> not_ready ("logged_in"), or ready=True
    status.ready()
    status.offer("c0ffee")           # the engine rings / bridges the agent
    status.answer()                  # on_call
    status.end_call(wrap_up_s=10)    # wrap_up until status.wrap_up_ends_at
    status.wrap_up_done()            # ready again (key, or the wrap-up timer)

What each state allows::

    logged_out   log_in                        -> not_ready ("logged_in"), or ready
    not_ready    ready, not_ready(reason), log_out
    ready        offer(call_id), not_ready(reason), log_out
    offered      answer -> on_call; miss -> ready (not_ready "no_answer" at max);
                 withdraw -> ready (the caller left first: no miss counted)
    on_call      end_call(wrap_up_s) -> wrap_up (ready when wrap_up_s is 0)
    wrap_up      wrap_up_done or ready -> ready; not_ready(reason), log_out
    (logged in)  disconnect -> logged_out ("disconnected")

`miss` (an on-demand agent who did not answer, or refused) sends the agent
back to ready, and after `max_misses` misses in a row to not_ready with
reason ``no_answer``. `disconnect` means the agent's phone or session is
gone. Anything else raises `IllegalTransition`. Every
transition returns the `StateChange` to store; `ready_since` (when the
agent last became ready) is what "longest idle" routing compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class AgentState(StrEnum):
    """Where an agent is; the values are what the store keeps."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


# Reasons the engine itself gives; agents' own not-ready reasons may not reuse them.
LOGGED_IN = "logged_in"
NO_ANSWER = "no_answer"
DISCONNECTED = "disconnected"
SUPERVISING = "supervising"  # a supervisor's session is listening in on a call
ENGINE_REASONS = frozenset({LOGGED_IN, NO_ANSWER, DISCONNECTED, SUPERVISING})

Clock = Callable[[], datetime]


class IllegalTransition(ValueError):
    """An agent was asked to do something its state does not allow."""

    def __init__(self, agent_id: str, state: AgentState, action: str) -> None:
        super().__init__(f"agent {agent_id} cannot {action} while {state.value}")
        self.agent_id = agent_id
        self.state = state
        self.action = action


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition, as the store records it (`at` from the status' clock)."""

    agent_id: str
    state: AgentState
    at: datetime
    reason: str | None = None
    call_id: str | None = None


class AgentStatus:
    """The live state of one agent; not thread-safe (one owner, e.g. the event loop)."""

    def __init__(self, agent_id: str, *, clock: Clock, max_misses: int = 2,
                 state: AgentState = AgentState.LOGGED_OUT,
                 reason: str | None = None) -> None:
        """Start in `state` (logged out unless restored), stamped now by `clock`.

        `max_misses` consecutive misses make the agent not ready (``no_answer``).
        """
        if max_misses < 1:
            raise ValueError(f"max_misses must be at least 1, got {max_misses}")
        self.agent_id = agent_id
        self.max_misses = max_misses
        self._clock = clock
        self.state = state
        self.reason = reason
        self.since = clock()
        self.ready_since: datetime | None = self.since if state is AgentState.READY else None
        self.call_id: str | None = None
        self.misses = 0
        self.wrap_up_ends_at: datetime | None = None
        self._ready_before_offer: datetime | None = None

    def __repr__(self) -> str:
        return f"AgentStatus({self.agent_id!r}, {self.state.value}, reason={self.reason!r})"

    @property
    def logged_in(self) -> bool:
        """Whether the agent is logged in (any state but logged_out)."""
        return self.state is not AgentState.LOGGED_OUT

    def _require(self, action: str, *allowed: AgentState) -> None:
        if self.state not in allowed:
            raise IllegalTransition(self.agent_id, self.state, action)

    def _move(self, state: AgentState, reason: str | None = None,
              call_id: str | None = None) -> StateChange:
        at = self._clock()
        self.state, self.reason, self.since = state, reason, at
        self.call_id = call_id
        self.ready_since = at if state is AgentState.READY else None
        self.wrap_up_ends_at = None
        return StateChange(self.agent_id, state, at, reason, call_id)

    def log_in(self, *, ready: bool = False) -> StateChange:
        """Log in: ready at once, or not ready with reason ``logged_in``."""
        self._require("log in", AgentState.LOGGED_OUT)
        self.misses = 0
        return self._move(AgentState.READY) if ready else self._move(AgentState.NOT_READY,
                                                                     LOGGED_IN)

    def ready(self) -> StateChange:
        """Become ready for calls (from not_ready, or wrap_up cut short)."""
        self._require("become ready", AgentState.NOT_READY, AgentState.WRAP_UP)
        self.misses = 0
        return self._move(AgentState.READY)

    def not_ready(self, reason: str) -> StateChange:
        """Take no calls for `reason` (a break, lunch...); also changes the reason."""
        if not reason:
            raise ValueError("a not-ready reason must not be empty")
        self._require("become not ready", AgentState.READY, AgentState.NOT_READY,
                      AgentState.WRAP_UP)
        return self._move(AgentState.NOT_READY, reason)

    def offer(self, call_id: str) -> StateChange:
        """A caller is being offered (rung, or bridged to the session after a tone)."""
        self._require("be offered a call", AgentState.READY)
        self._ready_before_offer = self.ready_since
        return self._move(AgentState.OFFERED, call_id=call_id)

    def answer(self) -> StateChange:
        """The agent took the offered call; resets the miss counter."""
        self._require("answer", AgentState.OFFERED)
        self.misses = 0
        return self._move(AgentState.ON_CALL, call_id=self.call_id)

    def withdraw(self) -> StateChange:
        """The offer is off through no fault of the agent (the caller hung up
        first): ready again, keeping their place in the longest-idle line
        (`ready_since` as before the offer) and their miss count."""
        self._require("have an offer withdrawn", AgentState.OFFERED)
        idle_since = self._ready_before_offer
        change = self._move(AgentState.READY)
        if idle_since is not None:
            self.ready_since = idle_since
        return change

    def miss(self) -> StateChange:
        """The offer was not answered (ring timeout, busy, refused).

        Back to ready, at the end of the longest-idle line; not ready with
        reason ``no_answer`` after `max_misses` misses in a row.
        """
        self._require("miss an offer", AgentState.OFFERED)
        self.misses += 1
        if self.misses >= self.max_misses:
            self.misses = 0
            return self._move(AgentState.NOT_READY, NO_ANSWER)
        return self._move(AgentState.READY)

    def end_call(self, wrap_up_s: float) -> StateChange:
        """The call ended: wrap up for `wrap_up_s` seconds (0 = ready at once)."""
        self._require("end a call", AgentState.ON_CALL)
        if wrap_up_s < 0:
            raise ValueError(f"wrap_up_s must not be negative, got {wrap_up_s}")
        if wrap_up_s == 0:
            return self._move(AgentState.READY)
        change = self._move(AgentState.WRAP_UP, call_id=self.call_id)
        self.wrap_up_ends_at = change.at + timedelta(seconds=wrap_up_s)
        return change

    def wrap_up_done(self) -> StateChange:
        """Wrap-up over (the agent's key, or the timer at `wrap_up_ends_at`): ready."""
        self._require("finish wrap-up", AgentState.WRAP_UP)
        return self._move(AgentState.READY)

    def wrap_up_expired(self, now: datetime) -> bool:
        """Whether wrap-up has run its configured time at `now`."""
        return (self.state is AgentState.WRAP_UP and self.wrap_up_ends_at is not None
                and now >= self.wrap_up_ends_at)

    def log_out(self) -> StateChange:
        """Log out (the session's key, a console); not while offered or on a call."""
        self._require("log out", AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP)
        return self._move(AgentState.LOGGED_OUT)

    def disconnect(self) -> StateChange:
        """The agent's phone or session is gone: logged out whatever the state.

        From offered or on_call, the caller is the wiring's to requeue or end.
        """
        self._require("disconnect", AgentState.READY, AgentState.NOT_READY,
                      AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP)
        return self._move(AgentState.LOGGED_OUT, DISCONNECTED, call_id=self.call_id)
