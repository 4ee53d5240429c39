"""The handoff without calls: whisper, offer event, JSON; tone and pace off the loop."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time

import numpy as np

from callcenter.caller_agitation import CallerAgitation
from callcenter.core.events import Event
from callcenter.handoff import Handoff, caller_whisper, json_safe, offer_event
from dialog.ports import Handover, Speaker, Turn

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_whisper_says_why_and_what_the_caller_wants() -> None:
    upset = Handoff("5551234", reason="tone", state="ask_day", intent="reschedule")
    assert upset.whisper("front-desk") == (
        "Escalated: caller upset; wants to reschedule. Queue front desk.")
    stuck = Handoff("5551234", reason="no_match", state="main_menu")
    assert stuck.whisper("desk") == "Escalated: the bot did not understand; at main menu. " \
                                    "Queue desk."
    assert Handoff("5551234", reason="dtmf").whisper("desk") == \
        "Caller asked for a person. Queue desk."
    plain = Handoff("+15551234", reason="flow")
    assert plain.whisper("front-desk") == caller_whisper("+15551234", "front-desk") == (
        "Caller from 1 5 5 5 1 2 3 4, queue front desk.")


def test_the_offer_is_an_agent_event_with_a_clean_json_payload() -> None:
    why = Handover(reason="tone", state="ask_day", intent="reschedule",
                   scores={"tone": [0.71], "utterances": [3]},
                   variables={"appointment": {"date": date(2026, 3, 4), "time": time(9, 30),
                                              "doctor": "Dr. Patel"}, "caller_number": "555"})
    turns = [Turn(Speaker.ENGINE, "greet", "Hello.", NOW, NOW),
             Turn(Speaker.CALLER, "main_menu", "reschedule", NOW, NOW, intent="reschedule")]
    handoff = Handoff.of("5551234", why, turns, priority_boost=30)
    event = offer_event(handoff, agent_id="1001", queue="front-desk", call_id="c1",
                        node="n1", whisper=handoff.whisper("front-desk"))
    assert event.topic == "agents/1001/offer"
    body = json.loads(event.to_json())
    assert body["agent"] == "1001" and body["caller_number"] == "5551234"
    assert body["reason"] == "tone" and body["scores"]["tone"] == [0.71]
    assert body["variables"]["appointment"] == {"date": "2026-03-04", "time": "09:30:00",
                                                "doctor": "Dr. Patel"}
    assert body["transcript"][1] == {"speaker": "caller", "text": "reschedule",
                                     "state": "main_menu", "intent": "reschedule"}
    assert body["whisper"].startswith("Escalated: caller upset")
    back = Event.from_json(event.to_json())
    assert back.topic == "agents/1001/offer" and back.data == event.data


def test_json_safe() -> None:
    assert json_safe({"a": (1, date(2026, 1, 2)), 3: {"b"}}) == {"a": [1, "2026-01-02"],
                                                                 "3": ["b"]}


async def test_every_utterance_is_scored_in_order_off_the_loop() -> None:
    rate = 8000
    t = np.arange(rate) / rate
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 22))
    tone = (3000 * harmonics).astype("<i2").tobytes()
    heard: list[int] = []
    agitation = CallerAgitation(rate, on_scored=lambda s, _: heard.append(s.index))
    for n in range(3):
        agitation.utterance_ended(n, tone, (n + 1) * 2000)
    first = await agitation.voice_until(1)
    assert [s.index for s in first] == [0, 1] and all(s.baseline for s in first)
    rest = await agitation.voice_until(2)
    assert [s.index for s in rest] == [2] and not rest[0].baseline
    assert rest[0].end_s == 6.0
    assert heard == [0, 1, 2] and agitation.audio_s == 3.0
    assert 0 < agitation.load < 0.05
    assert await agitation.voice_until(5) == ()
    agitation.utterance_ended(3, tone, 8000)
    await asyncio.wait_for(agitation.aclose(), 5)
