"""A real engine answering real calls from the built-in test caller."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call import Direction, EndReason
from callcenter.greeting import CHIME_NOTES_HZ, NOTE_S
from tests.support.audio import level_at, read_wav, rms, tone, write_wav
from tests.support.processes import EngineProcess, dial, start_dial

pytestmark = pytest.mark.e2e

CALLER_HZ = 700.0


def _wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _only_call(engine: EngineProcess) -> Any:
    store = engine.store()
    try:
        calls = _wait_for(lambda: [c for c in store.recent_calls() if c.recording_sha256],
                          what="a sealed CDR")
        assert len(calls) == 1
        return calls[0], store.events_for(calls[0].id)
    finally:
        store.close()


def test_call_is_answered_audio_flows_both_ways_and_is_recorded(
        engine: EngineProcess, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 2.0))
    heard_path = tmp_path / "heard.wav"

    outcome = dial(engine.uri(), "--wav", str(wav), "--dtmf", "159#",
                   "--record", str(heard_path), "--duration", "3.5")

    assert outcome["status"] == "answered"
    assert outcome["codec"] == "PCMU" and outcome["ended_by"] == "caller"
    # What the caller heard is the engine's chime, note by note.
    heard, rate = read_wav(heard_path)
    for i, note in enumerate(CHIME_NOTES_HZ):
        middle = heard[int(rate * (i * NOTE_S + 0.1)): int(rate * (i * NOTE_S + 0.3)), 0]
        assert level_at(middle, rate, note) > 0.8, f"chime note {note} Hz not heard"
    assert level_at(heard[: int(rate * 1.3), 0], rate, CALLER_HZ) < 0.01, "heard its own voice"

    cdr, events = _only_call(engine)
    assert cdr.direction == Direction.INBOUND
    assert cdr.to_uri == engine.uri()
    assert cdr.answered_at is not None and cdr.ended_at is not None
    assert cdr.end_reason == EndReason.CALLER_HANGUP and cdr.sip_code == 200
    assert cdr.codec == "PCMU"
    assert [e.data["digit"] for e in events if e.kind == "dtmf"] == list("159#")

    # Two channels: the caller's tone left, the chime right, for the whole call.
    recording = Path(cdr.recording_path)
    assert hashlib.sha256(recording.read_bytes()).hexdigest() == cdr.recording_sha256
    samples, rate = read_wav(recording)
    assert samples.shape[1] == 2 and rate == 8000
    call_seconds = (cdr.ended_at - cdr.answered_at).total_seconds()
    assert abs(len(samples) / rate - call_seconds) < 0.5
    caller_part = samples[int(0.3 * rate): int(1.8 * rate)]
    assert level_at(caller_part[:, 0], rate, CALLER_HZ) > 0.5
    assert level_at(caller_part[:, 1], rate, CALLER_HZ) < 0.01
    first_note = samples[int(0.1 * rate): int(0.3 * rate), 1]
    assert level_at(first_note, rate, CHIME_NOTES_HZ[0]) > 0.8


def test_engine_hangs_up_after_max_call_time(engine_factory: Any) -> None:
    engine = engine_factory({"engine": {"max_call_s": 1.5}})

    outcome = dial(engine.uri(), "--duration", "10")

    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote"
    cdr, _ = _only_call(engine)
    assert cdr.end_reason == EndReason.ENGINE_HANGUP
    assert 1.0 < (cdr.ended_at - cdr.answered_at).total_seconds() < 4.0


def test_call_over_tcp(engine: EngineProcess) -> None:
    outcome = dial(engine.uri(transport="tcp"), "--duration", "1")
    assert outcome["status"] == "answered"


def test_g722_call_runs_at_16_khz(engine_factory: Any, tmp_path: Path) -> None:
    engine = engine_factory({"sip": {"codecs": ["G722", "PCMU"]}})
    wav = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 1.5, rate=16000), rate=16000)
    config = tmp_path / "g722.yaml"
    config.write_text("sip:\n  codecs: [G722]\n")

    outcome = dial(engine.uri(), "--config", str(config), "--wav", str(wav),
                   "--duration", "2")

    assert outcome["codec"] == "G722" and outcome["clock_rate"] == 16000
    cdr, _ = _only_call(engine)
    samples, rate = read_wav(Path(cdr.recording_path))
    assert rate == 16000
    assert level_at(samples[int(0.3 * rate): int(1.3 * rate), 0], rate, CALLER_HZ) > 0.5


def test_kill_9_mid_call_then_restart_repairs_the_recording(
        engine: EngineProcess, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 8.0))
    caller = start_dial(engine.uri(), "--wav", str(wav), "--duration", "8")
    store = engine.store()
    try:
        open_call = _wait_for(lambda: [c for c in store.recent_calls() if c.recording_path],
                              what="a recording to start")[0]
    finally:
        store.close()
    time.sleep(2.5)

    engine.kill9()
    caller.kill()
    caller.wait(10)
    engine.start()

    store = engine.store()
    try:
        cdr = _wait_for(lambda: (c := store.get_call(open_call.id)) and c.ended_at and c,
                        what="the crashed call to be closed")
    finally:
        store.close()
    assert cdr.end_reason == EndReason.INCOMPLETE
    assert cdr.recording_complete is False
    recording = Path(cdr.recording_path)
    assert hashlib.sha256(recording.read_bytes()).hexdigest() == cdr.recording_sha256
    samples, rate = read_wav(recording)  # header lengths repaired: wave reads it all
    assert samples.shape[1] == 2
    assert 1.0 < len(samples) / rate < 4.0
    assert recording.stat().st_size == 44 + samples.size * 2
    assert rms(samples[int(0.5 * rate):, 0]) > 1000  # the caller's tone survived
