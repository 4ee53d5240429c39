"""Answering machines on campaign calls, over loopback: two phones answer an
engine's campaigns, one as a machine (a greeting of real read speech, then
a beep, recording what it hears), one as a person (a short real "yes", then
silence). Both hear the engine's identification at once; the machine's ends
at the screen's verdict, and it gets the campaign's message after its beep
(the attempt ends ``machine`` / ``machine_message_left``); the person gets
the flow.
"""

from __future__ import annotations

import asyncio
import csv
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from callcenter.core.store import Store
from tests.callcenter.test_campaign_calls import CALLER_ID, _campaign, _cli, _contacts
from tests.support.audio import read_wav, tone, write_wav
from tests.support.phone import Phone
from tests.support.processes import EngineProcess
from tests.support.shared_data import shared_path
from tests.support.sipp import free_port

pytestmark = pytest.mark.e2e

RATE = 8000
MACHINE, PERSON = "+12125550151", "+12125550152"
LEAD_S, GREETING_S, GAP_S, BEEP_S = 0.5, 4.5, 0.5, 0.4
#: By then the screen has taken the machine for one (decision_s 3 s, plus margin).
VERDICT_BY_S = 3.5


def _clips(kind: str) -> list[np.ndarray]:
    data = shared_path("real-speech-en")
    clips = []
    with (data / "manifest.tsv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["kind"] == kind:
                with wave.open(str(data / row["file"]), "rb") as w:
                    audio = np.frombuffer(w.readframes(w.getnframes()), "<i2")
                clips.append(audio[int(float(row["speech_start_s"]) * RATE):
                                   int(float(row["speech_end_s"]) * RATE)])
    return clips


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), "<i2")


def _machine_wav(path: Path) -> Path:
    """Lead silence, 4.5 s of read sentences, a gap, a 1 kHz beep, then silence."""
    parts: list[np.ndarray] = []
    for clip in _clips("sentence")[:4]:
        parts += [clip, _silence(0.3)]
    greeting = np.concatenate(parts)[:int(GREETING_S * RATE)]
    return write_wav(path, np.concatenate([_silence(LEAD_S), greeting, _silence(GAP_S),
                                           tone(1000, BEEP_S, level=0.25), _silence(1.0)]))


def _person_wav(path: Path) -> Path:
    return write_wav(path, np.concatenate([_silence(0.4), _clips("word")[0], _silence(1.0)]))


def _loud_from(samples: np.ndarray, rate: int, after: float = 0.0) -> tuple[float, float]:
    """(first, last) second of the recording louder than -40 dBFS (20 ms frames)."""
    frame = rate // 50
    x = samples[int(after * rate):, 0].astype(float)
    levels = np.sqrt(np.mean(x[:len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.flatnonzero(levels > 32768 * 10 ** (-40 / 20))
    assert len(loud), "nothing heard"
    return after + loud[0] / 50, after + (loud[-1] + 1) / 50


async def _finished(store: Store, campaign: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = store.campaigns.counts(campaign)
        if not counts["pending"] and not counts["in_flight"]:
            return
        await asyncio.sleep(0.25)


async def test_a_machine_gets_the_message_after_its_beep_and_a_person_the_flow(
        tmp_path: Path) -> None:
    machine = Phone(free_port(), "answer", "--wav",
                    str(_machine_wav(tmp_path / "greeting.wav")), "--record",
                    str(tmp_path / "machine-heard.wav"), "--hold", "60", "--lifetime", "150")
    person = Phone(free_port(), "answer", "--wav", str(_person_wav(tmp_path / "yes.wav")),
                   "--record", str(tmp_path / "person-heard.wav"), "--hold", "9",
                   "--lifetime", "150")
    clock = datetime.combine(datetime.now(UTC).date() + timedelta(days=1),
                             datetime.min.time(), UTC) + timedelta(hours=15)
    trunks = [{"name": name, "registrar": f"sip:127.0.0.1:{phone.port}", "register": False,
               "caller_id": CALLER_ID} for name, phone in (("machine", machine),
                                                            ("person", person))]
    engine = EngineProcess(tmp_path / "engine", {
        "sip": {"trunks": trunks}, "engine": {"flow": "clinic", "max_call_s": 60},
        "outbound": {"poll_s": 0.2, "clock_start": clock.isoformat()}})
    for name in ("machine", "person"):
        _cli(engine, "campaign", "create", str(_campaign(
            tmp_path / f"{name}.yaml", f"e2e-{name}", name,
            message_kind="healthcare_reminder")))
    _cli(engine, "campaign", "import", "e2e-machine", str(_contacts(tmp_path / "m.csv",
                                                                   [MACHINE])))
    _cli(engine, "campaign", "import", "e2e-person", str(_contacts(tmp_path / "p.csv",
                                                                  [PERSON])))
    store = engine.store()
    try:
        machine.wait_ready()
        person.wait_ready()
        engine.start(timeout=120)
        _cli(engine, "campaign", "start", "e2e-machine")
        _cli(engine, "campaign", "start", "e2e-person")
        await _finished(store, "e2e-machine")
        await _finished(store, "e2e-person")
        (left,) = store.campaigns.attempts("e2e-machine")
        assert (left.outcome, left.reason) == ("machine", "machine_message_left"), (
            engine.log[-4000:])
        (talked,) = store.campaigns.attempts("e2e-person")
        assert (talked.outcome, talked.reason) == ("answered", None), engine.log[-4000:]
        assert "human (short_hello)" in engine.log, engine.log[-4000:]

        # The engine's recording holds both sides on one clock: the engine greets
        # at once, falls silent at the verdict (nothing said over the rest of the
        # greeting) and the message starts right after the beep.
        record = store.get_call(left.call_id or "")
        assert record is not None and record.recording_path, record
        both, rate = read_wav(Path(record.recording_path))
        _, beep_end = _loud_from(both[:, :1], rate)  # the machine's last sound: its beep
        greeted, _ = _loud_from(both[:, 1:], rate)
        assert greeted <= 2.0, (greeted, engine.log[-3000:])
        start, end = _loud_from(both[:, 1:], rate, after=VERDICT_BY_S)
        # (The upper bound allows a loaded machine: measured 0.1 s when idle.)
        assert beep_end <= start <= beep_end + 2.5, (beep_end, start, engine.log[-3000:])
        assert 8.0 <= end - start <= 60.0, (start, end)
        # And the machine heard it, whole, until the engine hung up.
        (call,) = machine.result(timeout=30)
        assert (call["status"], call["ended_by"]) == ("answered", "remote"), call
        heard, rate = read_wav(tmp_path / "machine-heard.wav")
        start, end = _loud_from(heard, rate, after=VERDICT_BY_S)
        assert 8.0 <= end - start <= 60.0, (start, end)
        assert start >= LEAD_S + GREETING_S + GAP_S + BEEP_S, start

        (answered,) = person.result(timeout=30)
        assert answered["status"] == "answered", answered
        heard, rate = read_wav(tmp_path / "person-heard.wav")
        start, _ = _loud_from(heard, rate)
        # Greeted within 2 s of the answer, while the screen still listened.
        assert start <= 2.0, (start, engine.log[-3000:])
        assert (talked.greeted_at is not None, talked.abandoned) == (True, False), talked
    finally:
        store.close()
        engine.stop()
        machine.kill()
        person.kill()
