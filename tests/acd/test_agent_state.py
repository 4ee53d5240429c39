"""The agent state machine: legal paths stamped by the clock, illegal ones refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acd.agent_state import (
    DISCONNECTED,
    LOGGED_IN,
    NO_ANSWER,
    AgentState,
    AgentStatus,
    IllegalTransition,
    StateChange,
)
from tests.acd.clock import T0, ManualClock


def _status(clock: ManualClock, max_misses: int = 2) -> AgentStatus:
    return AgentStatus("1001", clock=clock, max_misses=max_misses)


def test_a_whole_shift_with_timestamps() -> None:
    clock = ManualClock()
    status = _status(clock)
    assert status.state is AgentState.LOGGED_OUT and not status.logged_in
    assert status.log_in() == StateChange("1001", AgentState.NOT_READY, T0, LOGGED_IN)
    clock.advance(5)
    assert status.ready() == StateChange("1001", AgentState.READY, T0 + timedelta(seconds=5))
    assert status.ready_since == T0 + timedelta(seconds=5)
    clock.advance(60)
    offered = status.offer("c1")
    assert (offered.state, offered.call_id) == (AgentState.OFFERED, "c1")
    assert status.ready_since is None
    clock.advance(2)
    assert status.answer().state is AgentState.ON_CALL and status.call_id == "c1"
    clock.advance(120)
    wrap = status.end_call(wrap_up_s=15)
    assert wrap == StateChange("1001", AgentState.WRAP_UP, clock.now, None, "c1")
    assert status.wrap_up_ends_at == clock.now + timedelta(seconds=15)
    assert not status.wrap_up_expired(clock.now + timedelta(seconds=14))
    assert status.wrap_up_expired(clock.now + timedelta(seconds=15))
    clock.advance(15)
    assert status.wrap_up_done().state is AgentState.READY
    assert status.not_ready("lunch") == StateChange("1001", AgentState.NOT_READY, clock.now,
                                                    "lunch")
    assert status.not_ready("break").reason == "break"  # a new reason is a new change
    assert status.log_out().state is AgentState.LOGGED_OUT


def test_log_in_ready_and_wrap_up_of_zero_seconds() -> None:
    status = _status(ManualClock())
    assert status.log_in(ready=True).state is AgentState.READY
    status.offer("c1")
    status.answer()
    assert status.end_call(wrap_up_s=0).state is AgentState.READY
    assert status.wrap_up_ends_at is None


def test_misses_go_back_to_ready_then_not_ready_no_answer() -> None:
    clock = ManualClock()
    status = _status(clock, max_misses=2)
    status.log_in(ready=True)
    first_ready = status.ready_since
    status.offer("c1")
    clock.advance(20)
    assert status.miss().state is AgentState.READY and status.misses == 1
    assert status.ready_since == clock.now and status.ready_since != first_ready
    status.offer("c2")
    change = status.miss()
    assert (change.state, change.reason) == (AgentState.NOT_READY, NO_ANSWER)
    assert status.misses == 0
    status.ready()
    status.offer("c3")
    status.miss()
    status.offer("c4")
    status.answer()  # an answer resets the count
    assert status.misses == 0


@pytest.mark.parametrize(("setup", "action"), [
    ([], "ready"), ([], "offer"), ([], "log_out"), ([], "disconnect"),
    (["log_in"], "log_in"), (["log_in"], "offer"), (["log_in"], "answer"),
    (["log_in", "ready"], "answer"), (["log_in", "ready"], "end_call"),
    (["log_in", "ready"], "wrap_up_done"), (["log_in", "ready", "offer"], "log_out"),
    (["log_in", "ready", "offer"], "not_ready"), (["log_in", "ready", "offer", "answer"],
                                                  "log_out"),
    (["log_in", "ready", "offer", "answer"], "offer"),
])
def test_illegal_transitions_raise_and_change_nothing(setup: list[str], action: str) -> None:
    status = _status(ManualClock())
    calls = {"log_in": status.log_in, "ready": status.ready, "offer": lambda: status.offer("c"),
             "answer": status.answer, "end_call": lambda: status.end_call(5),
             "wrap_up_done": status.wrap_up_done, "log_out": status.log_out,
             "not_ready": lambda: status.not_ready("break"), "disconnect": status.disconnect}
    for step in setup:
        calls[step]()
    before = (status.state, status.reason, status.since)
    with pytest.raises(IllegalTransition) as exc:
        calls[action]()
    assert exc.value.agent_id == "1001" and exc.value.state is before[0]
    assert str(exc.value).startswith("agent 1001 cannot ")
    assert (status.state, status.reason, status.since) == before


def test_disconnect_from_a_call_keeps_the_call_id_for_the_wiring() -> None:
    status = _status(ManualClock())
    status.log_in(ready=True)
    status.offer("c9")
    status.answer()
    change = status.disconnect()
    assert (change.state, change.reason, change.call_id) == (AgentState.LOGGED_OUT,
                                                             DISCONNECTED, "c9")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_misses"):
        AgentStatus("1", clock=ManualClock(), max_misses=0)
    status = _status(ManualClock())
    status.log_in(ready=True)
    with pytest.raises(ValueError, match="reason"):
        status.not_ready("")
    status.offer("c")
    status.answer()
    with pytest.raises(ValueError, match="negative"):
        status.end_call(-1)


def test_a_restored_ready_agent_is_ready_since_now() -> None:
    status = AgentStatus("7", clock=ManualClock(), state=AgentState.READY)
    assert status.ready_since == T0 and status.logged_in


def test_a_withdrawn_offer_is_no_miss_and_keeps_the_idle_place() -> None:
    clock = ManualClock()
    status = _status(clock, max_misses=1)
    status.log_in(ready=True)
    idle_since = status.ready_since
    clock.advance(30)
    status.offer("c1")
    clock.advance(2)  # the caller hangs up during the whisper
    change = status.withdraw()
    assert (change.state, change.at) == (AgentState.READY, clock.now)
    assert status.ready_since == idle_since and status.misses == 0
    with pytest.raises(IllegalTransition):
        status.withdraw()
