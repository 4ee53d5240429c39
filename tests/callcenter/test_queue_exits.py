"""The human queue's ways out and on-demand agents, over real calls.

One engine runs a flow that sends each caller (by number) to a queue:
``later`` offers a callback at its 3 s max wait and has a callback key,
``vm`` records a voicemail at its max wait, ``full`` takes one caller and
offers the next a callback, and ``desk`` is served by two on-demand agents
whose phones are :mod:`tests.support.phone` processes: the first rings and
never answers, the second answers. Callers are `callcenter dial` processes
playing a tone; who heard what is read from the recordings by frequency.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.acd_sounds import CONNECT_TONE_HZ, RECORD_BEEP_HZ
from tests.support.acd import acd_engine, agents_yaml, desk_agent, wait_for
from tests.support.audio import first_heard, level_at, read_wav, rms, tone, write_wav
from tests.support.phone import Phone
from tests.support.processes import EngineProcess, dial_result, dial_script, start_dial
from tests.support.sipp import HeldPort

pytestmark = pytest.mark.e2e

CALLER_HZ = 700.0
AGENT_HZ = 1250.0
MAX_CALL_S = 22

FLOW = """\
flow: exits_test
start: route
queues: {desk: {}, later: {}, vm: {}, full: {}}
escalation:
  queue: desk
  say: One moment.
  agent_say: Connecting you.
  unavailable: Nobody can take your call. Goodbye.
states:
  route:
    branch:
      - {when: caller_number, equals: "5550101", goto: to_later}
      - {when: caller_number, equals: "5550102", goto: to_later}
      - {when: caller_number, equals: "5550103", goto: to_vm}
      - {when: caller_number, equals: "5550104", goto: to_full}
      - {when: caller_number, equals: "5550105", goto: to_full}
      - goto: to_desk
  to_desk:
    do: [{transfer: {queue: desk}}]
  to_later:
    do: [{transfer: {queue: later}}]
  to_vm:
    do: [{transfer: {queue: vm}}]
  to_full:
    do: [{transfer: {queue: full}}]
"""


def _agents(ringing: int, answering: int) -> str:
    def on_demand(name: str, pin: str, at_start: str, phone: str) -> dict[str, Any]:
        return desk_agent(name, pin, mode="on_demand", at_start=at_start, phone=phone)

    return agents_yaml({
        "2001": on_demand("Rings Only", "1111", "ready", f"sip:agent@127.0.0.1:{ringing}"),
        "2002": on_demand("Answers", "2222", "ready", f"sip:agent@127.0.0.1:{answering}"),
        "2003": {**on_demand("On Shift", "3333", "not_ready", "sip:nobody@127.0.0.1:9"),
                 "skills": {"msg": 5}}},
        on_demand={"ring_timeout_s": 3, "max_misses": 1, "tone_s": 0.4})


def _queues(voicemail_dir: Path) -> str:
    return f"""\
queues:
  desk: {{skills: {{desk: 1}}, max_wait_s: 60, announce_every_s: 0, wrap_up_s: 2}}
  later:
    skills: {{msg: 1}}
    max_wait_s: 3
    announce_every_s: 0
    callback_key: "9"
    at_limit: {{action: callback, key: "1", timeout_s: 8}}
  vm:
    skills: {{msg: 1}}
    max_wait_s: 3
    announce_every_s: 0
    at_limit: {{action: voicemail, say: Leave a message after the tone., max_s: 20,
               silence_s: 4, dir: {voicemail_dir}}}
  full:
    skills: {{msg: 1}}
    max_wait_s: 30
    max_length: 1
    announce_every_s: 0
    at_limit: {{action: callback, key: "1", timeout_s: 8}}
"""


class Site:
    """The engine and where its agents' phones must listen (ports held until then)."""

    def __init__(self, engine: EngineProcess, ringing: HeldPort, answering: HeldPort,
                 voicemail_dir: Path) -> None:
        self.engine = engine
        self.ringing = ringing
        self.answering = answering
        self.voicemail_dir = voicemail_dir


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("queue-exits")
    # Held until the phones start, minutes later: another test's process could take them.
    ringing, answering = HeldPort(), HeldPort()
    engine = acd_engine(folder, flow=FLOW, agents=_agents(ringing.port, answering.port),
                        queues=_queues(folder / "voicemail"),
                        settings={"engine": {"max_call_s": MAX_CALL_S}})
    yield Site(engine, ringing, answering, folder / "voicemail")
    engine.stop()
    ringing.release()
    answering.release()


def _caller(site: Site, number: str, script: Path, steps: list[dict[str, Any]],
            *args: str) -> subprocess.Popen[str]:
    """A `callcenter dial` caller from `number` running `steps` (nothing transcribed)."""
    return start_dial(site.engine.uri(), "--from", number, "--no-transcribe", *args,
                      "--script", str(dial_script(script, steps)))


def _ended_call(engine: EngineProcess, number: str) -> Any:
    store = engine.store()
    try:
        return wait_for(f"the CDR of {number}", lambda: next(
            (c for c in store.recent_calls(50) if f"sip:{number}@" in c.from_uri
             and c.ended_at is not None), None), 15)
    finally:
        store.close()


def _entry(engine: EngineProcess, queue: str, call_id: str) -> Any:
    store = engine.store()
    try:
        return wait_for(f"the {queue} entry closed", lambda: next(
            (e for e in store.acd.entries(queue=queue)
             if e.call_id == call_id and e.outcome is not None), None), 10)
    finally:
        store.close()


def _callback(engine: EngineProcess, call_id: str) -> Any:
    store = engine.store()
    try:
        return wait_for("the callback row", lambda: next(
            (c for c in store.acd.callbacks(status=None) if c.call_id == call_id), None), 10)
    finally:
        store.close()


def test_at_max_wait_the_caller_is_offered_a_callback_and_takes_it(
        site: Site, tmp_path: Path) -> None:
    caller = _caller(site, "5550101", tmp_path / "caller.yaml",
                     [{"wait": 7.0}, {"dtmf": "1"}, {"wait": 25.0}])
    outcome = dial_result(caller, timeout=60)
    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    call = _ended_call(site.engine, "5550101")
    entry = _entry(site.engine, "later", call.id)
    assert (entry.outcome, entry.limit_hit) == ("callback", "max_wait"), entry
    callback = _callback(site.engine, call.id)
    assert (callback.number, callback.queue, callback.reason, callback.status) == (
        "5550101", "later", "max_wait", "pending")
    store = site.engine.store()
    try:
        said = [t.text for t in store.turns_for(call.id) if t.state == "queue:later"]
    finally:
        store.close()
    assert said[0] == "All our agents are still busy. To be called back, press 1.", said
    assert said[-1].startswith("Thank you. We will call you back"), said


def test_the_callback_key_while_waiting_leaves_a_callback_request(
        site: Site, tmp_path: Path) -> None:
    caller = _caller(site, "5550102", tmp_path / "caller.yaml",
                     [{"wait": 1.5}, {"dtmf": "9"}, {"wait": 25.0}])
    outcome = dial_result(caller, timeout=60)
    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    call = _ended_call(site.engine, "5550102")
    entry = _entry(site.engine, "later", call.id)
    assert (entry.outcome, entry.limit_hit) == ("callback", None), entry
    assert entry.wait_s is not None and entry.wait_s < 3.0, entry
    callback = _callback(site.engine, call.id)
    assert (callback.number, callback.reason) == ("5550102", "caller_key")


def test_at_max_wait_a_voicemail_is_recorded(site: Site, tmp_path: Path) -> None:
    message = write_wav(tmp_path / "message.wav", tone(CALLER_HZ, 12.0))
    heard = tmp_path / "heard.wav"
    caller = _caller(site, "5550103", tmp_path / "caller.yaml",
                     [{"wav": str(message)}, {"dtmf": "#"}, {"wait": 20.0}],
                     "--record", str(heard))
    outcome = dial_result(caller, timeout=60)
    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    call = _ended_call(site.engine, "5550103")
    entry = _entry(site.engine, "vm", call.id)
    assert (entry.outcome, entry.limit_hit) == ("voicemail", "max_wait"), entry
    store = site.engine.store()
    try:
        [event] = wait_for("the voicemail event", lambda: [
            e for e in store.events_for(call.id) if e.kind == "voicemail"], 10)
        [row] = store.voicemails.rows(call_id=call.id)
    finally:
        store.close()
    assert event.data["ended_by"] == "key", event.data
    assert (row.id, row.queue, row.caller, row.path, row.ended_by, row.heard_at) == (
        event.data["id"], "vm", "5550103", event.data["path"], "key", None)
    assert row.duration_s == pytest.approx(event.data["duration_s"], abs=0.01)
    path = Path(event.data["path"])
    assert path.parent == site.voicemail_dir and call.id in path.name
    samples, rate = read_wav(path)
    seconds = len(samples) / rate
    assert abs(seconds - event.data["duration_s"]) < 0.1
    assert 2.0 < seconds < 10.0, seconds  # the tone from the beep to the # key
    assert level_at(samples[:, 0], rate, CALLER_HZ) > 0.8  # the caller's tone
    caller_side, rate = read_wav(heard)
    assert first_heard(caller_side[:, 0], rate, RECORD_BEEP_HZ) is not None, "no beep heard"


def test_a_full_queue_offers_the_next_caller_a_callback(site: Site, tmp_path: Path) -> None:
    first = _caller(site, "5550104", tmp_path / "first.yaml",
                    [{"wait": 14.0}, {"hangup": True}])
    try:
        store = site.engine.store()
        try:
            wait_for("the first caller waiting", lambda: any(
                e.outcome is None for e in store.acd.entries(queue="full")), 20)
        finally:
            store.close()
        second = _caller(site, "5550105", tmp_path / "second.yaml",
                         [{"wait": 2.5}, {"dtmf": "1"}, {"wait": 25.0}])
        outcome = dial_result(second, timeout=60)
        assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    finally:
        dial_result(first, timeout=60)
    call = _ended_call(site.engine, "5550105")
    entry = _entry(site.engine, "full", call.id)
    assert (entry.outcome, entry.limit_hit, entry.wait_s) == ("callback", "max_length", 0.0)
    assert _callback(site.engine, call.id).reason == "max_length"
    first_call = _ended_call(site.engine, "5550104")
    assert _entry(site.engine, "full", first_call.id).outcome == "abandoned"


def test_an_unanswered_on_demand_agent_passes_the_caller_to_the_next_who_answers(
        site: Site, tmp_path: Path) -> None:
    agent_tone = write_wav(tmp_path / "agent.wav", tone(AGENT_HZ, 30.0))
    caller_tone = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 40.0))
    agent_heard, caller_heard = tmp_path / "agent-heard.wav", tmp_path / "caller-heard.wav"
    ringing = Phone(site.ringing.release(), "ring", "--lifetime", "60")
    answering = Phone(site.answering.release(), "answer", "--wav", str(agent_tone), "--record",
                      str(agent_heard), "--hold", "45", "--lifetime", "60")
    try:
        ringing.wait_ready()
        answering.wait_ready()
        caller = _caller(site, "5550200", tmp_path / "caller.yaml",
                         [{"wav": str(caller_tone)}], "--record", str(caller_heard))
        outcome = dial_result(caller, timeout=90)
        rang = ringing.result()
        answered = answering.result()
    finally:
        ringing.kill()
        answering.kill()
    # engine.max_call_s ends a caller who talks to an agent, and the agent's leg with it.
    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    assert [c["status"] for c in rang] == ["not_answered"], rang
    assert [(c["status"], c["ended_by"]) for c in answered] == [("answered", "remote")]
    call = _ended_call(site.engine, "5550200")
    assert call.end_reason == "engine_hangup"
    took = (call.ended_at - call.started_at).total_seconds()
    assert MAX_CALL_S - 1 < took < MAX_CALL_S + 5, took

    heard, rate = read_wav(caller_heard)
    connected = first_heard(heard[:, 0], rate, CONNECT_TONE_HZ)
    assert connected is not None and connected > 3.0, connected  # after the first ring
    agent_at = first_heard(heard[:, 0], rate, AGENT_HZ)
    assert agent_at is not None and agent_at >= connected, "the caller never heard the agent"
    agent_side, rate = read_wav(agent_heard)
    tone_at = first_heard(agent_side[:, 0], rate, CONNECT_TONE_HZ)
    assert tone_at is not None, "the agent never heard the tone"
    assert rms(agent_side[int(rate * max(0.0, tone_at - 1.5)):int(rate * (tone_at - 0.2)),
                          0]) > 300, "no whisper before the tone"
    caller_at = first_heard(agent_side[:, 0], rate, CALLER_HZ)
    assert caller_at is not None and caller_at >= tone_at, "the agent never heard the caller"

    entry = _entry(site.engine, "desk", call.id)
    assert (entry.outcome, entry.agent_id) == ("answered", "2002"), entry
    store = site.engine.store()
    try:
        missed = [(c.state, c.reason) for c in store.acd.state_changes("2001")]
        assert missed == [("ready", None), ("offered", None), ("not_ready", "no_answer")]
        took_it = wait_for("agent 2002 ready after wrap-up", lambda: [
            (c.state, c.reason) for c in store.acd.state_changes("2002")
            if len(store.acd.state_changes("2002")) >= 5], 15)
        assert took_it == [("ready", None), ("offered", None), ("on_call", None),
                           ("wrap_up", None), ("ready", None)], took_it
        assert [e.data["agent"] for e in store.events_for(call.id)
                if e.kind == "queue" and e.data.get("action") == "missed"] == ["2001"]
        # Each agent rung was offered the caller (the event a console shows while it rings).
        assert [e.data["agent"] for e in store.events_for(call.id) if e.kind == "offer"] == [
            "2001", "2002"]
    finally:
        store.close()
