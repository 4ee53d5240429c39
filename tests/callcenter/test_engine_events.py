"""A real engine publishing a call's lifecycle to a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from callcenter.node_registry import default_node_name
from tests.support.mosquitto import Broker
from tests.support.processes import EngineProcess, dial

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

    node = default_node_name(engine.port)  # node.name unset: <hostname>-<SIP port>
    assert any(t == f"cc/node/{node}/status" and p["status"] == "online" for t, p in received)
    call_topics = [(t, p) for t, p in received if t.startswith("cc/calls/")]
    call_id = call_topics[0][1]["call_id"]
    states = [p["state"] for t, p in call_topics if t == f"cc/calls/{call_id}/state"]
    assert states == ["ringing", "answered", "ended"]
    dtmf = [p for t, p in call_topics if t == f"cc/calls/{call_id}/dtmf"]
    assert [p["digit"] for p in dtmf] == ["7"]
    ended = next(p for t, p in call_topics if p.get("state") == "ended")
    assert ended["reason"] == "caller_hangup" and ended["direction"] == "inbound"


async def test_a_conversation_publishes_its_turns_and_partials(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    broker.start()
    engine = EngineProcess(tmp_path / "engine", {
        "engine": {"flow": "clinic", "max_call_s": 90},
        "events": {"backend": "mqtt", "topic_prefix": "cc", "mqtt": {"port": broker.port}}})
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("cc/calls/#", qos=1)
            await asyncio.to_thread(engine.start, 120)
            outcome = await asyncio.to_thread(
                dial, engine.uri(), "--from", "+15551230001", "--say",
                "I would like to confirm my appointment", timeout=150)
            received: list[tuple[str, dict[str, Any]]] = []
            async with asyncio.timeout(15):
                async for message in client.messages:
                    received.append((str(message.topic), json.loads(message.payload)))
                    if any(p.get("state") == "ended" for _, p in received):
                        break
    finally:
        engine.stop()
        broker.stop()

    assert outcome["status"] == "answered", outcome
    turns = [p for t, p in received if t.endswith("/turn")]
    engine_said = [p["text"] for p in turns if p["speaker"] == "engine"]
    assert engine_said[0].startswith("Thank you for calling Riverside Clinic"), turns
    caller = [p for p in turns if p["speaker"] == "caller"]
    assert caller and "confirm" in caller[0]["text"].lower(), turns
    assert (caller[0]["state"], caller[0]["intent"]) == ("main_menu", "confirm")
    # While the caller spoke, what had been recognized so far went out live.
    partials = [p for t, p in received if t.endswith("/partial")]
    assert partials and all(p["utterance"] == partials[0]["utterance"] for p in partials)
    # (how far a partial got depends on the machine's load: the first words at least)
    heard_live = set(re.findall(r"[a-z']+", " ".join(p["text"].lower() for p in partials)))
    assert heard_live & {"would", "like", "confirm", "my", "appointment"}, [
        p["text"] for p in partials]
