"""A real engine publishing a call's lifecycle to a real mosquitto."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.support.mosquitto import Broker
from tests.support.processes import dial

pytestmark = pytest.mark.e2e


async def test_call_lifecycle_is_published_over_mqtt(tmp_path: Path, engine_factory: Any
                                                     ) -> None:
    broker = Broker(tmp_path)
    broker.start()
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("cc/#", qos=1)
            engine = engine_factory({"events": {"backend": "mqtt", "topic_prefix": "cc",
                                                "mqtt": {"port": broker.port}}})
            outcome = await asyncio.to_thread(dial, engine.uri(), "--dtmf", "7",
                                              "--duration", "2")
            assert outcome["status"] == "answered"
            received: list[tuple[str, dict[str, Any]]] = []
            async with asyncio.timeout(10):
                async for message in client.messages:
                    received.append((str(message.topic), json.loads(message.payload)))
                    if any(p.get("state") == "ended" for _, p in received):
                        break
    finally:
        broker.stop()

    assert any(t == "cc/node/node-1/status" and p["status"] == "online" for t, p in received)
    call_topics = [(t, p) for t, p in received if t.startswith("cc/calls/")]
    call_id = call_topics[0][1]["call_id"]
    states = [p["state"] for t, p in call_topics if t == f"cc/calls/{call_id}/state"]
    assert states == ["ringing", "answered", "ended"]
    dtmf = [p for t, p in call_topics if t == f"cc/calls/{call_id}/dtmf"]
    assert [p["digit"] for p in dtmf] == ["7"]
    ended = next(p for t, p in call_topics if p.get("state") == "ended")
    assert ended["reason"] == "caller_hangup" and ended["direction"] == "inbound"
