"""Hold audio: a looping WAV mixed by the bridge, heard and recorded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.greeting import CHIME_NOTES_HZ, NOTE_S
from tests.support.audio import level_at, read_wav, tone, write_wav
from tests.support.processes import dial

pytestmark = pytest.mark.e2e

HOLD_HZ = 523.0


def test_hold_audio_loops_after_the_greeting_and_is_recorded(
        engine_factory: Any, tmp_path: Path) -> None:
    # A stereo 16 kHz file: the engine prepares it as mono at the bridge rate.
    hold = tone(HOLD_HZ, 0.8, 16000)
    stereo = write_wav(tmp_path / "hold.wav", np.repeat(hold, 2), rate=16000, channels=2)
    engine = engine_factory(settings={"engine": {"hold_audio": str(stereo)}})
    heard_path = tmp_path / "heard.wav"

    outcome = dial(engine.uri(), "--record", str(heard_path), "--duration", "4.5")

    assert outcome["status"] == "answered"
    heard, rate = read_wav(heard_path)
    greeting_s = len(CHIME_NOTES_HZ) * NOTE_S
    # After the chime the 0.8 s file plays over and over, well past its length.
    for start in (greeting_s + 0.5, greeting_s + 1.5, greeting_s + 2.5):
        part = heard[int(rate * start): int(rate * (start + 0.3)), 0]
        assert level_at(part, rate, HOLD_HZ) > 0.5, f"hold audio missing at {start:.1f} s"

    store = engine.store()
    try:
        deadline = time.monotonic() + 10
        while not (calls := [c for c in store.recent_calls() if c.recording_sha256]):
            assert time.monotonic() < deadline, "no sealed CDR"
            time.sleep(0.1)
    finally:
        store.close()
    samples, rate = read_wav(Path(calls[0].recording_path))
    start = greeting_s + 1.0
    heard_channel = samples[int(rate * start): int(rate * (start + 0.5)), 1]
    assert level_at(heard_channel, rate, HOLD_HZ) > 0.5, "hold audio not on channel 2"


def test_an_unreadable_hold_file_stops_the_engine_at_start(
        engine_factory: Any, tmp_path: Path) -> None:
    bad = tmp_path / "hold.wav"
    bad.write_text("not a wav")
    with pytest.raises(RuntimeError, match=r"engine\.hold_audio.*hold\.wav"):
        engine_factory(settings={"engine": {"hold_audio": str(bad)}})
