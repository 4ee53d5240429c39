"""End of turn from the voice: the decision rule, the stream's wiring, and
smart-turn on recorded human telephone speech (``shared/testdata``)."""

from __future__ import annotations

import asyncio
import csv
import wave
from pathlib import Path

import pytest

from asr.end_of_turn import SmartTurnDetector, TurnDecisions, decide, turn_decisions
from asr.endpointing import trails_off
from asr.settings import AsrSettings, EndOfTurnSettings
from asr.stream import Final
from asr.vad import VoiceActivityDetector
from callcenter.core.errors import SettingsError
from tests.asr.test_stream import RATE, SHORT_MS, FakeRecognizer, Harness, pattern
from tests.support.shared_data import shared_path


@pytest.mark.parametrize(("p", "text", "short", "finished"), [
    (0.9, "one moment please,", False, True),   # a comma does not keep it open
    (0.9, None, False, True),                   # the text is not back yet
    (0.9, "my date of birth is", False, False),  # a word that asks for more does
    (0.2, "Yes, that's correct.", False, False),  # an unfinished voice waits
    (0.2, "Two.", True, True),                  # short answers: the model hears one word poorly
    (0.2, "my", True, False),
    (None, "I'd like to pay my bill.", False, True),  # no audio decision: punctuation
    (None, "I'd like to,", False, False),
    (None, None, False, None),
    (None, None, True, True),
])
def test_decide(p: float | None, text: str | None, short: bool, finished: bool | None) -> None:
    assert decide(p, text, 0.5, short=short) is finished


@pytest.mark.parametrize(("text", "trailing"), [
    ("my name is", True), ("my name is John", False), ("and my", True), ("The, um", True),
    ("Is it the?", False), ("It is for the.", True), ("", False), ("No, no.", False),
])
def test_trails_off(text: str, trailing: bool) -> None:
    assert trails_off(text) is trailing


class FixedDetector:
    """Says the same probability every time; counts the questions."""

    def __init__(self, probability: float) -> None:
        self.p = probability
        self.calls = 0

    def probability(self, audio: bytes, rate: int) -> float:
        self.calls += 1
        return self.p


async def _end_of(probability: float, text: str, voice_ms: int = 1500) -> tuple[int, int]:
    """(end_ms, detector calls) of one utterance of `voice_ms`, then silence."""
    detector = FixedDetector(probability)
    turns = TurnDecisions(detector, 0.5)
    h = Harness(FakeRecognizer(partial_text=None, final_text=lambda _: text), turns=turns)
    await h.play(pattern(("1", voice_ms), ("0", 180)))  # past the pause probe
    async with asyncio.timeout(5):  # the decision runs on a thread: let it land
        while (spec := h.stream._speculation) is not None and spec.judging:
            await asyncio.sleep(0.005)
    await h.play(pattern(("0", 1200)))
    await h.until(Final)
    await h.close()
    turns.close()
    final = h.of(Final)[0]
    assert isinstance(final, Final)
    return final.end_ms - voice_ms, detector.calls


async def test_a_finished_voice_ends_on_the_short_silence_whatever_the_comma() -> None:
    silence, calls = await _end_of(0.9, "one moment please,")
    assert silence == SHORT_MS and calls == 1


async def test_an_unfinished_voice_waits_the_long_silence_whatever_the_full_stop() -> None:
    silence, _ = await _end_of(0.1, "This is a very common type of bow.")
    assert silence == 1000


async def test_a_trailing_word_keeps_a_finished_voice_open() -> None:
    silence, _ = await _end_of(0.9, "My date of birth is")
    assert silence == 1000


async def test_a_short_answer_ends_without_asking_the_model() -> None:
    silence, calls = await _end_of(0.1, "No", voice_ms=400)
    assert silence == SHORT_MS and calls == 0


def test_a_missing_model_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"asr\.end_of_turn\.model.*nowhere\.onnx"):
        turn_decisions(EndOfTurnSettings(model=tmp_path / "nowhere.onnx"))
    assert turn_decisions(EndOfTurnSettings(enabled=False)) is None


# -- smart-turn on real recorded speech ----------------------------------------


@pytest.fixture(scope="module")
def detector() -> SmartTurnDetector:
    return SmartTurnDetector()


def _clip(name: str) -> tuple[bytes, float]:
    """PCM and speech end (s) of a real-speech-en clip."""
    data = shared_path("real-speech-en")
    with wave.open(str(data / "audio" / name)) as w:
        pcm = w.readframes(w.getnframes())
    with open(data / "manifest.tsv", newline="") as f:
        row = next(r for r in csv.DictReader(f, delimiter="\t") if r["file"] == f"audio/{name}")
    return pcm, float(row["speech_end_s"])


def _cut_at_longest_pause(pcm: bytes, probe_ms: int) -> bytes:
    """`pcm` up to `probe_ms` into its longest inside pause (the node's VAD)."""
    vad = VoiceActivityDetector(8000, aggressiveness=2, frame_ms=20)
    voiced = [vad.is_speech(pcm[i:i + 320]) for i in range(0, len(pcm) - 319, 320)]
    first, last = voiced.index(True), len(voiced) - voiced[::-1].index(True)
    best, start = (0, 0), None
    for i in range(first, last):
        if not voiced[i] and start is None:
            start = i
        elif voiced[i] and start is not None:
            best, start = max(best, (i - start, start)), None
    assert best[0] * 20 >= 200, "no inside pause"
    return pcm[:(best[1] * 20 + probe_ms) * 16]


# Read sentences with a pause at a comma where Whisper writes a full stop:
# punctuation would end the turn there, the voice does not.
SENTENCES = ["vctk_p225_023.wav", "vctk_p225_024.wav", "vctk_p226_024.wav"]


@pytest.mark.parametrize("name", SENTENCES)
def test_smart_turn_hears_a_sentence_end_and_a_pause_inside(
        detector: SmartTurnDetector, name: str) -> None:
    pcm, end_s = _clip(name)
    probe = AsrSettings().pause_probe_ms
    whole = pcm[:int((end_s + probe / 1000) * 8000) * 2]
    assert detector.probability(whole, 8000) >= 0.5
    assert detector.probability(_cut_at_longest_pause(pcm, probe), 8000) < 0.5


def test_smart_turn_is_the_same_on_wideband_audio(detector: SmartTurnDetector) -> None:
    import numpy as np
    import soxr

    pcm, _ = _clip(SENTENCES[0])
    wide = soxr.resample(np.frombuffer(pcm, "<i2"), 8000, 16000).astype("<i2").tobytes()
    assert detector.probability(wide, 16000) == pytest.approx(
        detector.probability(pcm, 8000), abs=0.15)


async def test_a_decision_no_longer_wanted_is_skipped() -> None:
    detector = FixedDetector(0.9)
    turns = TurnDecisions(detector, 0.5)
    assert await turns.probability(b"\x00" * 320, RATE, wanted=lambda: False) is None
    assert await turns.probability(b"\x00" * 320, RATE, wanted=lambda: True) == 0.9
    turns.close()
    assert detector.calls == 1
