"""Answering-machine detection: beeps synthesized, people and greetings real.

The speech is real recorded speech (shared/testdata/real-speech-en): a
single word then silence is a person picking up; read sentences run
together are a machine's greeting. The benchmark (bench/answering_machine.py)
measures accuracy over every clip; these cases pin the behaviour.
"""

from __future__ import annotations

import csv
import wave

import numpy as np
import pytest

from callcenter.core.settings import AnsweringMachineSettings, load_settings
from outbound.answering_machine import (
    AmdDecision,
    AnsweringMachineDetector,
    BeepDetector,
    MessageCue,
    Verdict,
)
from tests.support.shared_data import shared_path

RATE = 8000


def tone(hz: float, seconds: float, rate: int = RATE, level: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return level * 32767 * np.sin(2 * np.pi * hz * t)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate))


def feed(audio: np.ndarray, rate: int = RATE,
         settings: AnsweringMachineSettings | None = None,
         ) -> tuple[AnsweringMachineDetector, list[AmdDecision | MessageCue]]:
    """Feed ``audio`` (with -65 dBFS line noise) in 20 ms frames until done."""
    noise = np.random.default_rng(0).normal(0, 32768 * 10 ** (-65 / 20), audio.shape)
    pcm = np.clip(audio + noise, -32768, 32767).astype("<i2").tobytes()
    detector = AnsweringMachineDetector(rate, settings)
    step = rate // 50 * 2
    events = []
    for offset in range(0, len(pcm) - step + 1, step):
        event = detector.feed(pcm[offset:offset + step])
        if event is not None:
            events.append(event)
        if detector.done:
            break
    return detector, events


@pytest.fixture(scope="module")
def speech() -> dict[str, list[np.ndarray]]:
    """The real clips by kind (``word``, ``sentence``), trimmed to their speech."""
    data = shared_path("real-speech-en")
    clips: dict[str, list[np.ndarray]] = {}
    with (data / "manifest.tsv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            with wave.open(str(data / row["file"]), "rb") as w:
                audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
            start = int(float(row["speech_start_s"]) * RATE)
            end = int(float(row["speech_end_s"]) * RATE)
            clips.setdefault(row["kind"], []).append(audio[start:end])
    return clips


def greeting(sentences: list[np.ndarray], seconds: float) -> np.ndarray:
    parts: list[np.ndarray] = []
    while sum(len(p) for p in parts) < seconds * RATE:
        parts += [sentences[len(parts) // 2 % len(sentences)], silence(0.3)]
    return np.concatenate(parts)[:int(seconds * RATE)]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_a_beep_is_found_with_its_frequency_and_its_end_cues_the_message(rate: int) -> None:
    settings = AnsweringMachineSettings()
    audio = np.concatenate([silence(0.5, rate), tone(1000, 0.4, rate), silence(2.0, rate)])
    detector, events = feed(audio, rate, settings)
    decision, cue = events
    assert isinstance(decision, AmdDecision) and decision.verdict is Verdict.MACHINE
    assert decision.reason == "beep"
    assert 0.5 + settings.beep_min_s <= decision.at_s <= 0.5 + settings.beep_min_s + 0.1
    assert isinstance(cue, MessageCue) and cue.reason == "beep"
    assert 0.9 <= cue.at_s <= 0.96  # the first frame after the tone
    assert cue.beep_hz == pytest.approx(1000, abs=15)
    assert detector.done and detector.feed(bytes(detector.frame_bytes)) is None


def test_a_click_shorter_than_a_beep_and_a_tone_outside_the_band_are_no_beep() -> None:
    beeps = BeepDetector(RATE, 350, 2100, 0.15)
    for audio in (tone(1000, 0.1), tone(200, 0.5), tone(3000, 0.5)):
        frames = np.concatenate([silence(0.1), audio, silence(0.2)]).astype(np.float32)
        found = [beeps.feed(frames[i:i + 160]) for i in range(0, len(frames) - 159, 160)]
        assert "start" not in found


def test_nothing_heard_is_a_person_at_the_deadline() -> None:
    detector, events = feed(silence(5.0))
    assert events == [AmdDecision(Verdict.HUMAN, "silence", 3.0)]


def test_a_frame_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 320 bytes"):
        AnsweringMachineDetector(RATE).feed(bytes(640))
    with pytest.raises(ValueError, match="unsupported rate"):
        AnsweringMachineDetector(44100)


def test_the_shipped_settings_are_the_detector_s_defaults() -> None:
    assert load_settings().outbound.answering_machine == AnsweringMachineSettings()


def test_a_short_word_then_silence_is_a_person(speech: dict[str, list[np.ndarray]]) -> None:
    settings = AnsweringMachineSettings()
    for word in speech["word"][::4]:
        _, events = feed(np.concatenate([silence(0.5), word, silence(3.0)]))
        (decision,) = events
        assert isinstance(decision, AmdDecision)
        assert (decision.verdict, decision.reason) == (Verdict.HUMAN, "short_hello")
        ended = 0.5 + len(word) / RATE
        assert ended + settings.after_greeting_silence_s <= decision.at_s + 0.02
        assert decision.at_s <= ended + settings.after_greeting_silence_s + 0.2


def test_a_read_greeting_is_a_machine_and_the_message_waits_for_the_beep(
        speech: dict[str, list[np.ndarray]]) -> None:
    sentences = speech["sentence"]
    for start in range(0, 40, 8):
        voice = greeting(sentences[start:start + 4], 5.0)
        audio = np.concatenate([silence(0.6), voice, silence(0.5), tone(850, 0.3),
                                silence(2.0)])
        detector, events = feed(audio)
        decision, cue = events
        assert isinstance(decision, AmdDecision) and decision.verdict is Verdict.MACHINE
        assert decision.at_s <= 3.0
        assert isinstance(cue, MessageCue) and cue.reason == "beep"
        beep_end = 0.6 + 5.0 + 0.5 + 0.3
        assert beep_end <= cue.at_s <= beep_end + 0.1
        assert cue.beep_hz == pytest.approx(850, abs=15)


def test_without_a_beep_the_message_starts_after_the_greeting_s_silence(
        speech: dict[str, list[np.ndarray]]) -> None:
    settings = AnsweringMachineSettings()
    voice = greeting(speech["sentence"][10:14], 4.0)
    _, events = feed(np.concatenate([silence(0.4), voice, silence(3.0)]), settings=settings)
    decision, cue = events
    assert isinstance(decision, AmdDecision) and decision.verdict is Verdict.MACHINE
    assert isinstance(cue, MessageCue) and cue.reason == "greeting_end"
    assert 4.4 + settings.greeting_end_silence_s <= cue.at_s + 0.02
    assert cue.at_s <= 4.4 + settings.greeting_end_silence_s + 0.3


def test_no_real_speech_clip_sounds_like_a_beep(speech: dict[str, list[np.ndarray]]) -> None:
    """Long vowels pass the per-frame tone test; the steadiness check must not."""
    for clip in speech["sentence"] + speech["word"]:
        beeps = BeepDetector(RATE, 350, 2100, 0.15)
        frames = clip.astype(np.float32)
        found = [beeps.feed(frames[i:i + 160]) for i in range(0, len(frames) - 159, 160)]
        assert "start" not in found


def test_a_beep_on_a_16_khz_call_after_a_greeting_is_found(
        speech: dict[str, list[np.ndarray]]) -> None:
    voice = np.repeat(greeting(speech["sentence"][20:24], 4.0), 2)  # crude 16 kHz
    audio = np.concatenate([silence(0.5, 16000), voice, silence(0.4, 16000),
                            tone(1400, 0.25, 16000), silence(2.0, 16000)])
    _, events = feed(audio, 16000)
    assert [type(e).__name__ for e in events] == ["AmdDecision", "MessageCue"]
    cue = events[1]
    assert isinstance(cue, MessageCue) and cue.reason == "beep"
    assert cue.beep_hz == pytest.approx(1400, abs=15)

