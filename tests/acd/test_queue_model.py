"""Waiting callers: order by priority then arrival, limits, and every way out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acd.queue_model import (
    CallbackReason,
    CallbackRequest,
    CallQueue,
    Limit,
    Outcome,
    QueueExit,
    limit_outcome,
)
from acd.queues_config import QueueSpec
from tests.acd.clock import T0


def _queue(**limits: object) -> CallQueue:
    return CallQueue("front-desk", **limits)  # type: ignore[arg-type]


def test_first_come_first_served_within_a_priority() -> None:
    queue = _queue()
    for i, call in enumerate(["a", "b", "c"]):
        queue.join(call, T0 + timedelta(seconds=i))
    assert [c.call_id for c in queue.waiting()] == ["a", "b", "c"]
    assert [queue.position(c) for c in "abc"] == [1, 2, 3]
    assert len(queue) == 3 and "b" in queue and "z" not in queue


def test_higher_priority_goes_first_and_ties_keep_join_order() -> None:
    queue = _queue()
    queue.join("low", T0, priority=0)
    queue.join("high", T0 + timedelta(seconds=5), priority=10)
    queue.join("same-time-1", T0 + timedelta(seconds=9), priority=10)
    queue.join("same-time-2", T0 + timedelta(seconds=9), priority=10)
    assert [c.call_id for c in queue.waiting()] == ["high", "same-time-1", "same-time-2", "low"]


def test_an_escalated_caller_goes_ahead_of_lower_priorities() -> None:
    spec = QueueSpec(name="front-desk", priority=5, escalation_boost=10)
    queue = CallQueue.from_spec(spec)
    for i, call in enumerate(["a", "b", "c"]):
        queue.join(call, T0 + timedelta(seconds=i), priority=spec.entry_priority())
    assert queue.raise_priority("c", spec.entry_priority(escalated=True)) == 1
    assert [c.call_id for c in queue.waiting()] == ["c", "a", "b"]
    assert queue.raise_priority("c", 0) == 1  # never lowered
    late = queue.join("d", T0 + timedelta(seconds=10), priority=spec.entry_priority(True))
    assert late is not None and queue.position("d") == 2  # behind the earlier escalated one


def test_max_length_refuses_the_next_caller_with_the_at_limit_outcome() -> None:
    queue = _queue(max_length=2)
    assert queue.join("a", T0) is not None and queue.join("b", T0) is not None
    assert queue.is_full
    assert queue.join("c", T0) is None and "c" not in queue
    refused = queue.refuse("c", T0, "goodbye", priority=3, number="+15550001")
    assert refused == QueueExit("c", "front-desk", 3, T0, T0, Outcome.FULL, 0.0, None,
                                Limit.MAX_LENGTH, "+15550001")
    assert queue.refuse("c", T0, "voicemail").outcome is Outcome.VOICEMAIL
    queue.abandoned("a", T0)
    assert not queue.is_full and queue.join("c", T0) is not None


def test_max_wait_deadline_overdue_and_timeout() -> None:
    queue = _queue(max_wait_s=60)
    queue.join("a", T0)
    queue.join("b", T0 + timedelta(seconds=30))
    assert queue.deadline("a") == T0 + timedelta(seconds=60)
    assert queue.overdue(T0 + timedelta(seconds=59)) == []
    assert [c.call_id for c in queue.overdue(T0 + timedelta(seconds=60))] == ["a"]
    queue.offer("b", "1001")  # being offered: not overdue while the agent rings
    assert [c.call_id for c in queue.overdue(T0 + timedelta(seconds=100))] == ["a"]
    left = queue.timed_out("a", T0 + timedelta(seconds=61), "goodbye")
    assert (left.outcome, left.limit, left.wait_s) == (Outcome.TIMEOUT, Limit.MAX_WAIT, 61.0)
    transferred = queue.timed_out("b", T0 + timedelta(seconds=100), "transfer")
    assert transferred.outcome is Outcome.TRANSFERRED and transferred.wait_s == 70.0
    unlimited = _queue()
    unlimited.join("x", T0)
    assert unlimited.deadline("x") is None and unlimited.overdue(T0 + timedelta(days=1)) == []
    queue.join("c", T0)
    with pytest.raises(ValueError, match="callback"):
        queue.timed_out("c", T0, "callback")


def test_an_abandoned_caller_is_recorded_with_the_wait() -> None:
    queue = _queue()
    queue.join("a", T0, priority=2, number="+15550001")
    left = queue.abandoned("a", T0 + timedelta(seconds=42.5))
    assert left == QueueExit("a", "front-desk", 2, T0, T0 + timedelta(seconds=42.5),
                             Outcome.ABANDONED, 42.5, None, None, "+15550001")
    assert len(queue) == 0
    with pytest.raises(KeyError, match="not waiting"):
        queue.abandoned("a", T0)


def test_offers_keep_the_place_and_failed_offers_are_remembered() -> None:
    queue = _queue()
    queue.join("a", T0)
    queue.join("b", T0 + timedelta(seconds=1))
    queue.offer("a", "1001")
    assert queue.position("a") == 1
    nxt = queue.next_to_route()
    assert nxt is not None and nxt.call_id == "b"
    with pytest.raises(ValueError, match="already offered"):
        queue.offer("a", "1002")
    queue.offer_failed("a")
    head = queue.next_to_route()
    assert head is not None and head.call_id == "a" and head.tried == {"1001"}
    queue.offer("a", "1002")
    left = queue.answered("a", "1002", T0 + timedelta(seconds=30))
    assert (left.outcome, left.agent_id, left.wait_s) == (Outcome.ANSWERED, "1002", 30.0)


def test_a_callback_request_leaves_the_queue_with_number_and_reason() -> None:
    queue = _queue()
    queue.join("a", T0, number="+15550001")
    left, request = queue.callback("a", T0 + timedelta(seconds=20))
    assert (left.outcome, left.limit, left.wait_s) == (Outcome.CALLBACK, None, 20.0)
    assert request == CallbackRequest("+15550001", "front-desk", CallbackReason.CALLER_KEY,
                                      T0 + timedelta(seconds=20), "a")
    queue.join("b", T0, number="+15550002")
    left, request = queue.callback("b", T0, CallbackReason.MAX_WAIT)
    assert left.limit is Limit.MAX_WAIT and request.reason is CallbackReason.MAX_WAIT
    queue.join("anonymous", T0)
    with pytest.raises(ValueError, match="no number"):
        queue.callback("anonymous", T0)
    assert "anonymous" in queue


def test_limit_outcomes() -> None:
    assert limit_outcome("goodbye", Limit.MAX_WAIT) is Outcome.TIMEOUT
    assert limit_outcome("goodbye", Limit.MAX_LENGTH) is Outcome.FULL
    assert limit_outcome("callback", Limit.MAX_LENGTH) is Outcome.CALLBACK
    assert limit_outcome("transfer", Limit.MAX_WAIT) is Outcome.TRANSFERRED
    assert limit_outcome("voicemail", Limit.MAX_WAIT) is Outcome.VOICEMAIL
    with pytest.raises(ValueError):
        limit_outcome("dance", Limit.MAX_WAIT)


def test_bad_use() -> None:
    queue = _queue()
    queue.join("a", T0)
    with pytest.raises(ValueError, match="already waiting"):
        queue.join("a", T0)
    with pytest.raises(ValueError):
        _queue(max_length=0)
    with pytest.raises(ValueError):
        _queue(max_wait_s=0)
