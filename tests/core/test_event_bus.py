"""The in-process event bus, its subscriptions, and MQTT-style topic matching."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime

import pytest

from callcenter.core.event_bus import InProcessEventBus, Subscription
from callcenter.core.events import Event, topic_matches


def state(call_id: str, n: int = 0) -> Event:
    return Event("state", {"state": "answered", "n": n}, call_id=call_id, node="node-1")


async def drain(sub: Subscription) -> list[Event]:
    async with asyncio.timeout(1):
        return [event async for event in sub]


async def test_every_subscriber_gets_every_matching_event() -> None:
    bus = InProcessEventBus()
    first, second = bus.subscribe("#"), bus.subscribe("calls/#")
    events = [state("a", 1), state("b", 2)]
    for event in events:
        await bus.publish(event)
    await bus.close()
    assert await drain(first) == events
    assert await drain(second) == events


async def test_pattern_selects_topics() -> None:
    bus = InProcessEventBus()
    one_call = bus.subscribe("calls/a/+")
    dtmf = bus.subscribe("calls/+/dtmf")
    node = bus.subscribe("node/#")
    await bus.publish(state("a"))
    await bus.publish(Event("dtmf", {"digit": "5"}, call_id="b"))
    await bus.publish(Event("status", {"status": "online"}, node="node-1"))
    await bus.close()
    assert [e.topic for e in await drain(one_call)] == ["calls/a/state"]
    assert [e.topic for e in await drain(dtmf)] == ["calls/b/dtmf"]
    assert [e.topic for e in await drain(node)] == ["node/node-1/status"]


async def test_slow_subscriber_loses_oldest_and_publish_never_waits() -> None:
    bus = InProcessEventBus(subscriber_queue=3)
    slow, fast = bus.subscribe(), bus.subscribe()
    got: list[Event] = []

    async def keep_up() -> None:
        async for event in fast:
            got.append(event)

    reader = asyncio.create_task(keep_up())
    async with asyncio.timeout(1):
        for n in range(10):
            await bus.publish(state("a", n))
            await asyncio.sleep(0)  # let the fast reader run
        await bus.close()
        await reader
    assert [e.data["n"] for e in await drain(slow)] == [7, 8, 9]
    assert slow.dropped == 7
    assert [e.data["n"] for e in got] == list(range(10))
    assert fast.dropped == 0


async def test_close_ends_waiting_iterators() -> None:
    bus = InProcessEventBus()
    sub = bus.subscribe()
    waiting = asyncio.create_task(drain(sub))
    await asyncio.sleep(0)
    await bus.close()
    async with asyncio.timeout(1):
        assert await waiting == []
    # Closed: publishing is harmless and new subscriptions end at once.
    await bus.publish(state("a"))
    assert await drain(bus.subscribe()) == []


async def test_close_on_a_full_queue_still_ends_iteration() -> None:
    bus = InProcessEventBus(subscriber_queue=2)
    sub = bus.subscribe()
    for n in range(2):
        await bus.publish(state("a", n))
    await bus.close()
    assert [e.data["n"] for e in await drain(sub)] == [0, 1]
    assert sub.dropped == 0


async def test_aclose_and_dropped_subscriptions_are_forgotten() -> None:
    bus = InProcessEventBus()
    stopped = bus.subscribe()
    await stopped.aclose()
    bus.subscribe()  # nobody keeps it
    gc.collect()
    assert len(bus._subs) == 0
    await bus.publish(state("a"))
    assert await drain(stopped) == []


async def test_watched_while_a_matching_subscription_lives() -> None:
    bus = InProcessEventBus()
    assert not bus.watched("calls/c1/partial")
    one_call = bus.subscribe("calls/c2/#")
    assert not bus.watched("calls/c1/partial") and bus.watched("calls/c2/partial")
    everything = bus.subscribe("#")
    assert bus.watched("calls/c1/partial")
    await everything.aclose()
    await one_call.aclose()
    assert not bus.watched("calls/c2/partial")


def test_event_json_round_trip() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    event = Event("state", {"state": "ringing", "to": "+100"}, call_id="c1", node="n1", at=at)
    assert Event.from_json(event.to_json()) == event
    assert Event.from_json(event.to_json().encode()) == event
    for bad in ("[]", "not json", '{"kind":"x"}', '{"kind":"x","at":"2024-05-01","node":1}'):
        with pytest.raises(ValueError):
            Event.from_json(bad)


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("#", "calls/a/state", True),
        ("calls/#", "calls/a/state", True),
        ("calls/#", "calls", True),
        ("calls/+/state", "calls/a/state", True),
        ("calls/+/state", "calls/a/dtmf", False),
        ("calls/+", "calls/a/state", False),
        ("calls/+", "calls", False),
        ("calls/a/state", "calls/a/state", True),
        ("calls/a/state", "calls/a/state/x", False),
        ("+/+/+", "node/n1/status", True),
        ("node/#", "calls/a/state", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches
