"""The MQTT event bus against a real mosquitto started (and killed) by the tests."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.events import Event
from callcenter.core.settings import EventSettings, MqttSettings
from callcenter.events_wiring import make_event_bus
from callcenter.mqtt_events import MqttEventBus
from tests.support.mosquitto import Broker, free_port

PREFIX = "cctest"


def settings_for(broker: Broker) -> EventSettings:
    return EventSettings(backend="mqtt", topic_prefix=PREFIX,
                         mqtt=MqttSettings(host="127.0.0.1", port=broker.port, reconnect_s=0.2))


@pytest.fixture
async def bus(broker: Broker) -> AsyncIterator[MqttEventBus]:
    b = MqttEventBus(settings_for(broker), "node-a")
    await b.start()
    async with asyncio.timeout(5):
        await b.wait_connected()
    yield b
    await b.close()


def state(call_id: str, n: int = 0) -> Event:
    return Event("state", {"state": "answered", "n": n}, call_id=call_id, node="node-a")


async def collect(client: aiomqtt.Client, count: int, seconds: float = 5) -> list[aiomqtt.Message]:
    got: list[aiomqtt.Message] = []
    async with asyncio.timeout(seconds):
        async for message in client.messages:
            got.append(message)
            if len(got) == count:
                return got
    return got


def numbers(messages: list[aiomqtt.Message]) -> set[int]:
    return {json.loads(m.payload)["n"] for m in messages if isinstance(m.payload, bytes)}


async def test_events_reach_a_plain_mqtt_subscriber(broker: Broker, bus: MqttEventBus) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/calls/#", qos=1)
        await bus.publish(state("c1", 1))
        await bus.publish(Event("dtmf", {"digit": "7"}, call_id="c1"))
        first, second = await collect(client, 2)
    assert first.topic.value == f"{PREFIX}/calls/c1/state"
    body = json.loads(first.payload)
    assert body["kind"] == "state" and body["call_id"] == "c1" and body["n"] == 1
    assert body["node"] == "node-a" and "at" in body
    assert second.topic.value == f"{PREFIX}/calls/c1/dtmf"


async def test_node_status_online_then_offline(broker: Broker) -> None:
    bus = MqttEventBus(settings_for(broker), "node-s")
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/node/node-s/status", qos=1)
        await bus.start()
        [online] = await collect(client, 1)
        await bus.close()
        [offline] = await collect(client, 1)
    assert json.loads(online.payload)["status"] == "online"
    assert json.loads(offline.payload)["status"] == "offline"


async def test_last_will_says_offline_when_the_node_vanishes(broker: Broker) -> None:
    bus = MqttEventBus(settings_for(broker), "node-w")
    await bus.start()
    async with asyncio.timeout(5):
        await bus.wait_connected()
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/node/node-w/status", qos=1)
        [retained] = await collect(client, 1)
        assert retained.retain and json.loads(retained.payload)["status"] == "online"
        # Drop the TCP connection without an MQTT DISCONNECT, as a crash would.
        assert bus._client is not None
        sock = bus._client._client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        [will] = await collect(client, 1)
        assert json.loads(will.payload)["status"] == "offline"
    await bus.close()


async def test_own_subscribe_sees_published_events(bus: MqttEventBus) -> None:
    states = bus.subscribe("calls/+/state")
    everything = bus.subscribe()
    sent = state("c2", 5)
    await bus.publish(Event("dtmf", {"digit": "1"}, call_id="c2"))
    await bus.publish(sent)
    async with asyncio.timeout(5):
        got = await anext(states)
        seen = [await anext(everything) for _ in range(3)]
    assert got == sent
    assert {e.topic for e in seen} == {"calls/c2/dtmf", "calls/c2/state", "node/node-a/status"}
    await bus.close()
    async with asyncio.timeout(1):
        assert [e async for e in states] == []


async def test_broker_down_then_back(broker: Broker, bus: MqttEventBus,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.mqtt_events")
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/calls/#", qos=1)
        await bus.publish(state("c3", 0))
        assert numbers(await collect(client, 1)) == {0}

    broker.stop()
    began = time.monotonic()
    for n in range(1, 201):
        await bus.publish(state("c3", n))  # neither blocks nor raises
        if n % 20 == 0:
            await asyncio.sleep(0.05)
    assert time.monotonic() - began < 1.5  # the sleeps alone are 0.5 s
    await asyncio.sleep(0.5)  # noticed, and a few reconnects failed
    assert not bus.connected and bus.queued > 0

    broker.start()
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/calls/#", qos=1)
        async with asyncio.timeout(5):
            await bus.wait_connected()
        for n in range(201, 211):
            await bus.publish(state("c3", n))
        got = numbers(await collect(client, 210, seconds=10))
    # Events published before the outage was noticed may have gone to the dying
    # broker; everything queued while it was away, and after, arrives.
    assert set(range(201, 211)) <= got
    missing = set(range(1, 201)) - got
    assert not missing or max(missing) < 20
    ours = [r for r in caplog.records if r.name == "callcenter.mqtt_events"]
    warnings = [r for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert any("reconnected" in r.getMessage() and r.levelno == logging.INFO for r in ours)


async def test_full_queue_drops_oldest(tmp_path: Path) -> None:
    nowhere = EventSettings(backend="mqtt", topic_prefix=PREFIX,
                            mqtt=MqttSettings(port=free_port(), reconnect_s=0.2))
    bus = MqttEventBus(nowhere, "node-q", max_queued=5, flush_timeout_s=0.2)
    await bus.start()
    for n in range(8):
        await bus.publish(state("c4", n))
    assert (bus.queued, bus.dropped) == (5, 3)
    assert [e.data["n"] for e in bus._pending] == [3, 4, 5, 6, 7]
    began = time.monotonic()
    await bus.close()
    assert time.monotonic() - began < 1.5


async def test_close_flushes_and_is_quick(broker: Broker) -> None:
    bus = MqttEventBus(settings_for(broker), "node-c")
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{PREFIX}/calls/#", qos=1)
        await bus.start()
        for n in range(500):  # queued before the connection is even up
            await bus.publish(state("c5", n))
        began = time.monotonic()
        await bus.close()
        took = time.monotonic() - began
        got = numbers(await collect(client, 500))
    assert got == set(range(500))
    assert took < 2.5
    await bus.publish(state("c5", 999))  # closed: ignored, no error


async def test_make_event_bus_picks_the_backend(broker: Broker) -> None:
    assert isinstance(make_event_bus(EventSettings(), "n"), InProcessEventBus)
    assert isinstance(make_event_bus(settings_for(broker), "n"), MqttEventBus)
