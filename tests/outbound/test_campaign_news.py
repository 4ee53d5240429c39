"""Campaign news reach a plain MQTT subscriber through a real mosquitto: the
scheduler on a real SQLite store with a fake call port publishes every
finished attempt (dialled, retried, blocked) and the campaign's state changes
(paused and resumed by a command, finished when its last contact is done)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.settings import EventSettings, MqttSettings
from callcenter.core.store import AsyncStore, Store
from callcenter.mqtt_events import MqttEventBus
from compliance.store_dial_facts import StoreDialFacts
from outbound.scheduler import CampaignScheduler
from tests.outbound.test_scheduler import T0, A, B, C, Clock, FakeCalls, _settle, _setup
from tests.support.mosquitto import Broker

PREFIX = "cctest"


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(Store(f"sqlite:///{tmp_path / 'callcenter.db'}"))
    await s.migrate()
    yield s
    await s.close()


async def _read(client: aiomqtt.Client, count: int) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    async with asyncio.timeout(10):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            got.append((message.topic.value, json.loads(message.payload)))
            if len(got) == count:
                break
    return got


async def test_attempts_and_state_changes_reach_an_mqtt_subscriber(
        broker: Broker, sqlite: AsyncStore) -> None:
    _setup(sqlite.store, [A, B, C])
    sqlite.store.dnc.add(C, source="cli", actor="test")
    clock = Clock(T0)
    calls = FakeCalls(clock, {B: [DialOutcome.BUSY, DialOutcome.ANSWERED]})
    bus = MqttEventBus(EventSettings(backend="mqtt", topic_prefix=PREFIX, mqtt=MqttSettings(
        host="127.0.0.1", port=broker.port, reconnect_s=0.2)), "node-1")
    await bus.start()
    scheduler = CampaignScheduler(sqlite.campaigns, calls,
                                  lambda: StoreDialFacts(sqlite.store, None), node="node-1",
                                  clock=lambda: clock.now, monotonic=lambda: clock.mono,
                                  events=bus)
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe(f"{PREFIX}/campaigns/#", qos=1)
            await scheduler.run_pass()
            await _settle(scheduler)
            first = await _read(client, 3)
            sqlite.store.campaigns.set_state("c1", "paused", T0)
            await scheduler.run_pass()
            clock.advance(600)  # B's retry is due, but the campaign is paused
            await scheduler.run_pass()
            sqlite.store.campaigns.set_state("c1", "running", T0)
            await scheduler.run_pass()
            await _settle(scheduler)
            second = await _read(client, 4)
    finally:
        await scheduler.stop()
        await bus.close()

    assert {topic for topic, _ in first} == {f"{PREFIX}/campaigns/c1/attempt"}
    by_number = {body["number"]: body for _, body in first}
    answered, busy, blocked = by_number[A], by_number[B], by_number[C]
    assert (answered["outcome"], answered["sip_code"], answered["decision"], answered["final"],
            answered["contact_result"], answered["attempt_no"]) == (
        "answered", 200, "ok", True, "answered", 1)
    assert answered["dialed_at"] == T0.isoformat() and answered["ended_at"] == T0.isoformat()
    assert answered["call_id"].startswith("call-") and answered["node"] == "node-1"
    assert (busy["outcome"], busy["sip_code"], busy["final"]) == ("busy", 486, False)
    assert busy["next_attempt_at"] == "2026-01-13T15:10:00+00:00"
    assert (blocked["outcome"], blocked["reason"], blocked["decision"], blocked["rule_id"],
            blocked["dialed_at"], blocked["final"]) == (
        "blocked", "internal_dnc", "internal_dnc", "dnc.internal", None, True)
    assert blocked["call_id"] is None

    kinds = [(topic.rsplit("/", 1)[1], body.get("change") or body["outcome"])
             for topic, body in second]
    assert kinds == [("state", "paused"), ("state", "resumed"), ("attempt", "answered"),
                     ("state", "finished")], second
    retried = second[2][1]
    assert (retried["number"], retried["attempt_no"], retried["final"]) == (B, 2, True)
    assert second[3][1]["reason"] == "all_contacts_done"
    assert sorted(n for n, _ in calls.dialed) == [A, B, B]


async def test_a_live_answer_s_result_and_greeting_are_stored_and_published(
        sqlite: AsyncStore) -> None:
    _setup(sqlite.store, [A])
    clock = Clock(T0)
    greeted = T0 + timedelta(seconds=2, milliseconds=600)

    class Rescheduling(FakeCalls):
        async def place(self, call: OutboundCall) -> DialResult:
            return DialResult(DialOutcome.ANSWERED, 200, call_id="call-1",
                              result="rescheduled", result_detail="2026-01-20T10:30:00-05:00",
                              greeted_at=greeted, abandoned=True)

    bus = InProcessEventBus()
    events = bus.subscribe("campaigns/c1/attempt")
    scheduler = CampaignScheduler(sqlite.campaigns, Rescheduling(clock),
                                  lambda: StoreDialFacts(sqlite.store, None), node="node-1",
                                  clock=lambda: clock.now, monotonic=lambda: clock.mono,
                                  events=bus)
    await scheduler.run_pass()
    await _settle(scheduler)
    [attempt] = sqlite.store.campaigns.attempts("c1")
    assert (attempt.result, attempt.result_detail, attempt.greeted_at, attempt.abandoned) == (
        "rescheduled", "2026-01-20T10:30:00-05:00", greeted, True)
    [contact] = sqlite.store.campaigns.contacts("c1")
    assert (contact.result, contact.result_detail) == ("rescheduled", "2026-01-20T10:30:00-05:00")
    async with asyncio.timeout(2):
        event = await anext(events)
    assert (event.data["result"], event.data["result_detail"], event.data["abandoned"],
            event.data["greeted_at"], event.data["contact_result"]) == (
        "rescheduled", "2026-01-20T10:30:00-05:00", True, greeted.isoformat(), "rescheduled")
    await bus.close()
