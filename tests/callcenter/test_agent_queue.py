"""The human queue over real calls: agent sessions, hold, whisper, bridge, abandon.

One engine runs a small flow that hands every caller to the queue ``desk``
at once (no speech recognition needed). Agents are `callcenter dial`
processes calling the session number and keying in id, PIN and commands as
RFC 4733 digits; callers are `callcenter dial` processes too. Each side plays
its own tone and records what it hears, so who heard what, and in which
order, is read from the recordings by frequency.
"""

from __future__ import annotations

import subprocess
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
    desk_flow,
    desk_queues,
    wait_for,
)
from tests.support.audio import first_heard, level_at, read_wav, rms, tone, write_wav
from tests.support.clinic import clinic_engine
from tests.support.processes import (
    EngineProcess,
    callcenter_cmd,
    dial_result,
    dial_script,
    start_dial,
)

pytestmark = pytest.mark.e2e

CALLER_HZ = 700.0  # what the caller plays
AGENT_HZ = 1250.0  # what the agent plays
CALLER_NUMBER = "5551234"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine whose every caller goes to the queue `desk` (agents 1001, 1002)."""
    engine = acd_engine(
        tmp_path_factory.mktemp("agent-queue"), flow=desk_flow(returns=True),
        agents=agents_yaml(DESK_AGENTS, session={"tone_s": 0.4}),
        queues=desk_queues(max_wait_s=120, announce_every_s=10, wrap_up_s=60,
                           after_agent="flow"),
        settings={"engine": {"max_call_s": 120}})
    yield engine
    engine.stop()


def _seconds_with(samples: np.ndarray, rate: int, freq: float, start: float, end: float,
                  share: float = 0.5) -> float:
    """Seconds of [start, end) during which `freq` dominates (100 ms windows)."""
    step = int(rate * 0.1)
    count = sum(1 for i in range(int(rate * start), int(rate * end) - step, step)
                if rms(samples[i:i + step]) > 100
                and level_at(samples[i:i + step], rate, freq) >= share)
    return count * 0.1


def test_a_caller_waits_on_hold_then_talks_to_an_agent_then_returns_to_the_flow(
        desk: EngineProcess, tmp_path: Path) -> None:
    agent_tone = write_wav(tmp_path / "agent.wav", tone(AGENT_HZ, 6.0))
    caller_tone = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 40.0))
    agent_heard, caller_heard = tmp_path / "agent-heard.wav", tmp_path / "caller-heard.wav"
    # The agent logs in (not ready), lets the caller wait, gets ready, talks over
    # the tone, ends the call with *, finishes wrap-up (3) and logs out (9).
    agent = start_dial(desk.uri("200"), "--from", "1001", "--record", str(agent_heard),
                       "--script", str(dial_script(tmp_path / "agent.yaml", [
                           {"wait": 1.0}, {"dtmf": "1001#4711#"}, {"wait": 12.0},
                           {"dtmf": "1"}, {"wait": 4.0}, {"wav": str(agent_tone)},
                           {"dtmf": "*"}, {"wait": 2.0}, {"dtmf": "3"}, {"wait": 2.0},
                           {"dtmf": "9"}, {"wait": 6.0}])))
    try:
        wait_for("agent 1001 logged in", lambda: agent_state(desk, "1001") == "not_ready")
        caller = start_dial(desk.uri(), "--from", CALLER_NUMBER, "--record", str(caller_heard),
                            "--script", str(dial_script(tmp_path / "caller.yaml", [
                                {"wav": str(caller_tone)}, {"wait": 5.0}])))
        caller_outcome = dial_result(caller, timeout=90)
        agent_outcome = dial_result(agent, timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert caller_outcome["status"] == "answered" and caller_outcome["ended_by"] == "remote"
    assert agent_outcome["status"] == "answered" and agent_outcome["ended_by"] == "remote"

    # The caller heard the hold tone, then the connect tone, then the agent.
    heard, rate = read_wav(caller_heard)
    heard = heard[:, 0]
    connected = first_heard(heard, rate, CONNECT_TONE_HZ)
    assert connected is not None, "the caller never heard the connect tone"
    assert _seconds_with(heard, rate, HOLD_TONE_HZ, 0, connected) >= 1.0, (
        "the caller heard no hold audio before the agent came")
    assert first_heard(heard, rate, AGENT_HZ, after=connected) is not None, "agent not heard"
    assert first_heard(heard, rate, AGENT_HZ) >= connected  # type: ignore[operator]

    # The agent heard the whisper, then the tone, then the caller (never before).
    agent_side, rate = read_wav(agent_heard)
    agent_side = agent_side[:, 0]
    tone_at = first_heard(agent_side, rate, CONNECT_TONE_HZ)
    assert tone_at is not None, "the agent never heard the connect tone"
    whisper = agent_side[int(rate * (tone_at - 1.5)):int(rate * (tone_at - 0.2))]
    assert rms(whisper) > 300, "no whisper before the tone"
    assert first_heard(agent_side, rate, CALLER_HZ) >= tone_at  # type: ignore[operator]
    assert _seconds_with(agent_side, rate, CALLER_HZ, tone_at, len(agent_side) / rate) >= 2.0

    store = desk.store()
    try:
        call = call_from(store, CALLER_NUMBER)
        session = call_from(store, "1001")
        # Channel 2 of the caller's recording: hold audio, then the agent.
        wait_for("the caller's recording sealed",
                 lambda: store.get_call(call.id).recording_sha256, 15)
        recording, rate = read_wav(Path(store.get_call(call.id).recording_path))
        ours = recording[:, 1]
        agent_at = first_heard(ours, rate, AGENT_HZ)
        assert agent_at is not None, "the agent is not on channel 2"
        assert _seconds_with(ours, rate, HOLD_TONE_HZ, 0, agent_at) >= 1.0
        assert first_heard(recording[:, 0], rate, CALLER_HZ) is not None  # channel 1: the caller

        [entry] = [e for e in store.acd.entries(queue="desk") if e.call_id == call.id]
        assert (entry.outcome, entry.agent_id) == ("answered", "1001")
        assert entry.wait_s is not None and entry.wait_s > 2.0, entry
        wait_for("the handle time", lambda: store.acd.entry(entry.id).handle_s, 10)

        changes = [(c.state, c.reason) for c in store.acd.state_changes("1001")]
        assert changes == [("not_ready", "logged_in"), ("ready", None), ("offered", None),
                           ("on_call", None), ("wrap_up", None), ("ready", None),
                           ("logged_out", None)], changes
        whispers = [t.text for t in store.turns_for(session.id) if t.state == "whisper"]
        assert whispers == ["Caller from 5 5 5 1 2 3 4, queue desk."], whispers
        # Back in the flow after the agent pressed *: its goodbye, then the hang-up.
        said = [(t.state, t.text) for t in store.turns_for(call.id) if t.speaker == "engine"]
        assert ("back", "Welcome back. Goodbye.") in said, said
        queue_events = [e.data["action"] for e in store.events_for(call.id)
                        if e.kind == "queue"]
        assert queue_events == ["joined", "connected", "left"], queue_events
    finally:
        store.close()


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(
        desk: EngineProcess, tmp_path: Path) -> None:
    # Agent 1002 mistypes the PIN once, logs in, stays not ready, then hangs up.
    agent = start_dial(desk.uri("200"), "--from", "1002", "--script", str(
        dial_script(tmp_path / "agent.yaml", [{"wait": 1.0}, {"dtmf": "1002#1111#"},
                                              {"wait": 2.5}, {"dtmf": "1002#2580#"},
                                              {"wait": 24.0}])))
    agent_outcome: dict[str, Any] = {}
    try:
        wait_for("agent 1002 logged in", lambda: agent_state(desk, "1002") == "not_ready")
        caller = start_dial(desk.uri(), "--from", "5550002", "--script", str(
            dial_script(tmp_path / "caller.yaml", [{"wait": 13.0}, {"hangup": True}])))
        outcome = dial_result(caller, timeout=60)
        assert outcome["status"] == "answered" and outcome["ended_by"] == "caller"
        store = desk.store()
        try:
            call = wait_for("the caller's CDR", lambda: next(
                (c for c in store.recent_calls(50) if "sip:5550002@" in c.from_uri
                 and c.ended_at is not None), None))
            entry = wait_for("the queue entry closed", lambda: next(
                (e for e in store.acd.entries(queue="desk")
                 if e.call_id == call.id and e.outcome is not None), None), 10)
            assert entry.outcome == "abandoned" and entry.agent_id is None
            assert entry.wait_s is not None and 9.0 < entry.wait_s < 16.0, entry
            # After 10 s on hold the caller heard their place in line.
            told = [t.text for t in store.turns_for(call.id) if t.state == "queue:desk"]
            assert told == ["You are next in line."], told
            assert agent_state(desk, "1002") == "not_ready"
        finally:
            store.close()
        agent_outcome = dial_result(agent, timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent_outcome["status"] == "answered" and agent_outcome["ended_by"] == "caller"
    assert "login 1 failed (agent id '1002')" in desk.log
    wait_for("agent 1002 logged out when the phone hung up",
             lambda: agent_state(desk, "1002") == "logged_out")
    store = desk.store()
    try:
        last = store.acd.state_changes("1002")[-1]
        assert (last.state, last.reason) == ("logged_out", "disconnected")
    finally:
        store.close()


def test_a_bad_queues_file_stops_the_engine_at_start(tmp_path: Path) -> None:
    queues = tmp_path / "bad-queues.yaml"
    queues.write_text("queues:\n  desk:\n    skills: {front_desk: 1}\n    strategy: fastest\n")
    config = tmp_path / "site.yaml"
    config.write_text(f"engine:\n  flow: null\nacd:\n  queues_file: {queues}\n")

    done = subprocess.run(callcenter_cmd("serve", "--config", str(config), "--sip-port", "0",
                                         "--data-dir", str(tmp_path / "data")),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "bad-queues.yaml:4: queues.desk.strategy" in done.stderr, done.stderr[-2000:]


def test_the_clinic_front_desk_key_reaches_a_logged_in_agent(tmp_path: Path) -> None:
    """The shipped clinic flow, agents and queues: key 0 in the menu puts the
    caller in the front-desk queue (no REFER), where agent 1002 takes them."""
    engine = clinic_engine(tmp_path / "clinic", max_call_s=120)
    agent = start_dial(engine.uri("200"), "--from", "1002", "--script", str(
        dial_script(tmp_path / "agent.yaml", [{"wait": 1.0}, {"dtmf": "1002#2580#"},
                                              {"wait": 3.0}, {"dtmf": "1"}, {"wait": 90.0}])))
    try:
        wait_for("agent 1002 ready", lambda: agent_state(engine, "1002") == "ready")
        heard = tmp_path / "caller-heard.wav"
        caller = start_dial(engine.uri(), "--from", "+15551230001", "--record", str(heard),
                            "--script", str(dial_script(tmp_path / "caller.yaml", [
                                {"wait_prompt": True}, {"dtmf": "0"}, {"wait": 10.0},
                                {"hangup": True}])))
        outcome = dial_result(caller, timeout=120)
        assert outcome["status"] == "answered" and outcome["ended_by"] == "caller", outcome
        samples, rate = read_wav(heard)
        assert first_heard(samples[:, 0], rate, CONNECT_TONE_HZ) is not None, "never connected"
        store = engine.store()
        try:
            call = wait_for("the caller's CDR", lambda: next(
                (c for c in store.recent_calls(50) if "+15551230001" in c.from_uri
                 and c.ended_at is not None), None))
            entry = wait_for("the front-desk entry closed", lambda: next(
                (e for e in store.acd.entries(queue="front-desk")
                 if e.call_id == call.id and e.outcome is not None), None), 10)
            assert (entry.outcome, entry.agent_id) == ("answered", "1002"), entry
            assert not [e for e in store.events_for(call.id) if e.kind == "transfer"]  # no REFER
            # Read from the stored changes: the caller's own process transcribes what it
            # heard before it returns, and a loaded machine can take longer than wrap_up_s.
            wait_for("agent 1002 in wrap-up", lambda: "wrap_up" in [
                c.state for c in store.acd.state_changes("1002")])
        finally:
            store.close()
    finally:
        agent.kill()
        agent.communicate(timeout=10)
        engine.stop()
