"""Live escalation on tone over real calls: an angry caller reaches an agent, a calm one not.

One engine runs a small flow whose one state listens with the upset policy
on (``escalation: upset:``, default thresholds). Both callers are
`callcenter dial` processes playing one EmoDB speaker's clips (emo08, from
``shared/testdata/emotion-emodb``): two neutral clips first (the caller's
baseline), then angry ones, or neutral ones only. The angry caller must be
escalated on tone to the queue, ahead (the flow's priority boost), with the
agent session hearing the whisper first, then both hear the connect tone
and each other's tone; the recording holds bot, hold audio and agent. The
calm caller, at the same time, is heard and scored but never escalated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.acd_sounds import CONNECT_TONE_HZ, HOLD_TONE_HZ
from tests.support.acd import (
    DESK_AGENTS,
    acd_engine,
    agent_state,
    agents_yaml,
    call_from,
    desk_queues,
    wait_for,
)
from tests.support.audio import first_heard, level_at, read_wav, rms, tone, write_wav
from tests.support.processes import EngineProcess, dial_result, dial_script, start_dial
from tests.support.shared_data import shared_path

pytestmark = pytest.mark.e2e

CALLER_HZ = 700.0
AGENT_HZ = 1250.0
SPEAKER = "emo08"  # calm clips score <= 0.25 on tone, angry ones 0.45-0.85 (10 of 12 >= 0.5)

FLOW = """\
flow: upset_test
start: listen
queues:
  desk: {}
escalation:
  queue: desk
  after_failures: 10
  say: Let me get someone.
  agent_say: Connecting you.
  unavailable: Nobody can take your call. Goodbye.
  upset:
    say: One moment please.
    priority_boost: 25
states:
  listen:
    say: Tell me about it.
    max_failures: 10
    reprompt: {no_match: Go on., no_input: Go on.}
    menu:
      done: {dtmf: 9, keywords: [finished], goto: bye}
  bye:
    do:
      - hangup: Goodbye.
"""


def _clips(emotion: str) -> list[Path]:
    data = shared_path("emotion-emodb")
    with (data / "manifest.tsv").open(encoding="utf-8") as manifest:
        return [data / row["file"] for row in csv.DictReader(manifest, delimiter="\t")
                if row["speaker"] == SPEAKER and row["emotion"] == emotion]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    _clips("neutral")  # skip before starting anything when the data is missing
    engine = acd_engine(
        tmp_path_factory.mktemp("upset"), flow=FLOW,
        agents=agents_yaml({"1001": DESK_AGENTS["1001"]}, session={"tone_s": 0.4}),
        queues=desk_queues(max_wait_s=60, announce_every_s=60),
        settings={"engine": {"max_call_s": 90}})
    yield engine
    engine.stop()


def _speak(clips: list[Path]) -> list[dict[str, Any]]:
    """Each clip, then time for the engine to end the turn and say "Go on."."""
    return [step for clip in clips for step in ({"wav": str(clip)}, {"wait": 2.5})]


def _seconds_with(samples: np.ndarray, rate: int, freq: float, start: float,
                  end: float) -> float:
    step = int(rate * 0.1)
    return 0.1 * sum(1 for i in range(int(rate * start), int(rate * end) - step, step)
                     if rms(samples[i:i + step]) > 100
                     and level_at(samples[i:i + step], rate, freq) >= 0.5)


def test_an_angry_caller_reaches_an_agent_and_a_calm_one_stays_with_the_bot(
        engine: EngineProcess, tmp_path: Path) -> None:
    neutral, angry = _clips("neutral"), _clips("angry")
    agent_heard, caller_heard = tmp_path / "agent-heard.wav", tmp_path / "caller-heard.wav"
    agent_tone = write_wav(tmp_path / "agent.wav", tone(AGENT_HZ, 45.0))
    caller_tone = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 8.0))
    agent = start_dial(engine.uri("200"), "--from", "1001", "--record", str(agent_heard),
                       "--script", str(dial_script(tmp_path / "agent.yaml", [
                           {"wait": 1.0}, {"dtmf": "1001#4711#"}, {"wait": 2.5},
                           {"dtmf": "1"}, {"wav": str(agent_tone)}])))
    try:
        wait_for("agent 1001 ready", lambda: agent_state(engine, "1001") == "ready", 60)
        upset = start_dial(engine.uri(), "--from", "5550001", "--record", str(caller_heard),
                           "--script", str(dial_script(tmp_path / "upset.yaml", [
                               {"wait_prompt": True}, *_speak(neutral[:2] + angry[:2]),
                               {"wait": 3.0}, {"wav": str(caller_tone)}])))
        calm = start_dial(engine.uri(), "--from", "5550002", "--script", str(
            dial_script(tmp_path / "calm.yaml", [{"wait_prompt": True}, *_speak(neutral[:4]),
                                                  {"wait": 5.0}, {"hangup": True}])))
        upset_outcome, calm_outcome = dial_result(upset, 90), dial_result(calm, 90)
        dial_result(agent, 90)  # the agent hangs up after its tone
    finally:
        if agent.poll() is None:
            agent.kill()
    assert upset_outcome["status"] == "answered" and upset_outcome["ended_by"] == "caller"
    assert calm_outcome["status"] == "answered" and calm_outcome["ended_by"] == "caller"

    store = engine.store()
    try:
        call, quiet = call_from(store, "5550001"), call_from(store, "5550002")
        session = call_from(store, "1001")
        # The angry caller: escalated on tone, into the queue ahead, offered to 1001.
        events = wait_for("the offer", lambda: (e := store.events_for(call.id)) and any(
            x.kind == "offer" for x in e) and e, 10)
        [escalation] = [e.data for e in events if e.kind == "escalation"]
        assert escalation["reason"] == "tone" and escalation["queue"] == "desk", escalation
        assert max(escalation["scores"]["tone"]) >= 0.5 and escalation["state"] == "listen"
        joined = next(e.data for e in events if e.kind == "queue")
        assert joined["action"] == "joined" and joined["priority"] == 25, joined
        offer = next(e.data for e in events if e.kind == "offer")
        assert offer["agent"] == "1001" and offer["caller_number"] == "5550001"
        assert offer["reason"] == "tone" and offer["transcript"], offer
        whispers = [t.text for t in store.turns_for(session.id) if t.state == "whisper"]
        assert whispers == ["Escalated: caller upset; at listen. Queue desk."], whispers
        heard_voices = [t for t in store.turns_for(call.id)
                        if t.speaker == "caller" and "voice" in t.data]
        assert len(heard_voices) >= 3  # two calm turns (the baseline) and the angry one

        # The calm caller: heard and scored on every turn, never escalated.
        assert not [e for e in store.events_for(quiet.id) if e.kind in ("escalation", "queue")]
        scored = [t.data["voice"] for t in store.turns_for(quiet.id)
                  if t.speaker == "caller" and "voice" in t.data]
        assert len(scored) >= 3, scored
        assert max(v["tone"] for v in scored) < 0.5, scored

        # The recording of the angry call: bot, then hold audio, then the agent.
        wait_for("the recording sealed", lambda: store.get_call(call.id).recording_sha256, 15)
        recording, rate = read_wav(Path(store.get_call(call.id).recording_path))
        ours = recording[:, 1]
        hold_at = first_heard(ours, rate, HOLD_TONE_HZ)
        agent_at = first_heard(ours, rate, AGENT_HZ)
        assert hold_at is not None and agent_at is not None and hold_at < agent_at
        assert rms(ours[:int(rate * hold_at)]) > 300, "no bot speech before the hold audio"
        assert _seconds_with(ours, rate, HOLD_TONE_HZ, hold_at, agent_at) >= 0.5
    finally:
        store.close()

    # Both heard each other after the connect tone; the agent heard the whisper first.
    heard, rate = read_wav(caller_heard)
    connected = first_heard(heard[:, 0], rate, CONNECT_TONE_HZ)
    assert connected is not None, "the caller never heard the connect tone"
    assert first_heard(heard[:, 0], rate, AGENT_HZ, after=connected) is not None, "agent not heard"
    agent_side, rate = read_wav(agent_heard)
    agent_side = agent_side[:, 0]
    tone_at = first_heard(agent_side, rate, CONNECT_TONE_HZ)
    assert tone_at is not None, "the agent never heard the connect tone"
    assert rms(agent_side[int(rate * (tone_at - 1.5)):int(rate * (tone_at - 0.2))]) > 300, (
        "no whisper before the tone")
    assert first_heard(agent_side, rate, CALLER_HZ) >= tone_at  # type: ignore[operator]
    assert _seconds_with(agent_side, rate, CALLER_HZ, tone_at, len(agent_side) / rate) >= 2.0
