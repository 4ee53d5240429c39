"""The real bundled Whisper model on synthesized telephone speech."""

from __future__ import annotations

import asyncio
import csv
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asr.settings import AsrSettings
from asr.stream import Final, Partial, SpeechStarted, StreamEvent, UtteranceStream, VoiceOnset
from asr.whisper import WhisperRecognizer, collapse_repetitions, voiced_bursts
from callcenter.core.errors import SettingsError
from callcenter.core.speech import Recognizer
from tests.asr.speech import frames, normalized, say, silence
from tests.support.shared_data import shared_path

# Deterministic piper speech that tiny.en gets right at 8 kHz ("I want to
# talk to an agent" comes back as "I went to talk ...").
SENTENCES = [
    "I would like to speak to an agent.",
    "Please cancel my appointment.",
    "Yes, that is correct.",
]
# Answers short enough to decode without timestamps, so waiting ones may batch.
ANSWERS = ["Yes.", "Seven.", "Cancel it."]


def test_it_is_a_recognizer(recognizer: WhisperRecognizer) -> None:
    port: Recognizer = recognizer
    assert port is recognizer


@pytest.mark.parametrize("text", SENTENCES)
async def test_finals_at_8k(recognizer: WhisperRecognizer, text: str) -> None:
    result = await recognizer.transcribe(say(text), 8000, final=True)
    assert result is not None and result.is_final
    assert normalized(result.text) == normalized(text)
    assert 0.3 < result.confidence <= 1.0
    assert result.audio_seconds > 1 and result.compute_seconds > 0


@pytest.fixture(scope="module")
def hotwords() -> Iterator[WhisperRecognizer]:
    """A recognizer that biases towards the hints (``asr.bias: hotwords``)."""
    rec = WhisperRecognizer(AsrSettings(bias="hotwords", workers=1))
    yield rec
    rec.close()


async def test_16k_espeak_and_hints(hotwords: WhisperRecognizer) -> None:
    audio = say("I want to talk to an agent.", 16000, engine="espeak")
    result = await hotwords.transcribe(audio, 16000, final=True,
                                       hints=["agent", "appointment", "yes", "no"])
    assert result is not None
    assert normalized(result.text) == "i want to talk to an agent"


async def test_long_hints_are_cut_to_fit(hotwords: WhisperRecognizer) -> None:
    hints = [f"Customer{i} Surname{i}" for i in range(400)]
    result = await hotwords.transcribe(say(SENTENCES[1]), 8000, final=True, hints=hints)
    assert result is not None and normalized(result.text) == normalized(SENTENCES[1])


async def test_hints_as_a_prompt() -> None:
    rec = WhisperRecognizer(AsrSettings(bias="prompt", workers=1))
    try:
        result = await rec.transcribe(say(SENTENCES[2]), 8000, final=True,
                                      hints=["yes", "no", "correct"])
        assert result is not None and normalized(result.text) == normalized(SENTENCES[2])
    finally:
        rec.close()


async def test_silence_and_empty_audio(recognizer: WhisperRecognizer) -> None:
    empty = await recognizer.transcribe(b"", 8000, final=True)
    assert empty is not None and empty.text == "" and empty.confidence == 0
    quiet = await recognizer.transcribe(silence(1.0), 8000, final=False)
    assert quiet is not None and quiet.text.strip(" .") == ""


async def test_a_long_final_keeps_its_end(recognizer: WhisperRecognizer) -> None:
    text = ("Hello, I am calling because I received a letter about my insurance policy, "
            "and I do not understand the amount that was charged to my account last month. "
            "Could you please explain it and tell me how to change my payment method?")
    result = await recognizer.transcribe(say(text), 8000, final=True)
    assert result is not None and result.audio_seconds > 10
    assert normalized(result.text).endswith("payment method")


async def test_finals_outrank_partials(recognizer: WhisperRecognizer) -> None:
    audio = say(SENTENCES[0])
    final = asyncio.create_task(recognizer.transcribe(audio, 8000, final=True))
    await asyncio.sleep(0)
    skipped = recognizer.partials_skipped
    assert await recognizer.transcribe(audio, 8000, final=False) is None
    assert recognizer.partials_skipped == skipped + 1
    assert await final is not None
    assert recognizer.busy == 0
    partial = await recognizer.transcribe(audio, 8000, final=False)
    assert partial is not None and not partial.is_final


async def test_a_busy_pool_skips_partials_not_finals(recognizer: WhisperRecognizer) -> None:
    audio = say(SENTENCES[1])
    partials = [asyncio.create_task(recognizer.transcribe(audio, 8000, final=False))
                for _ in range(4)]
    results = await asyncio.gather(*partials)
    # two workers, one of them kept for finals: one partial ran, three were skipped
    assert sum(r is None for r in results) == 3
    finals = await asyncio.gather(*(recognizer.transcribe(audio, 8000, final=True)
                                    for _ in range(3)))
    assert all(f is not None for f in finals)
    assert recognizer.busy == 0


async def test_waiting_finals_decode_together_as_each_alone(
        recognizer: WhisperRecognizer) -> None:
    """Six short answers at once on two workers: some wait and decode as a
    batch, word for word what faster-whisper's own decode of each gives."""
    audios = [say(text) for text in ANSWERS] * 2
    alone = [recognizer.transcribe_blocking(audio, 8000, final=True).text
             for audio in audios[:3]] * 2
    batched = recognizer.waiting_finals.batched
    together = await asyncio.gather(*(recognizer.transcribe(audio, 8000, final=True)
                                      for audio in audios))
    assert [t.text for t in together if t is not None] == alone
    assert recognizer.waiting_finals.batched >= batched + 2
    assert recognizer.busy == 0 and len(recognizer.waiting_finals) == 0


async def test_a_final_given_up_on_while_waiting_is_dropped(
        recognizer: WhisperRecognizer) -> None:
    audio = say(ANSWERS[2])
    finals = [asyncio.create_task(recognizer.transcribe(audio, 8000, final=True))
              for _ in range(6)]
    await asyncio.sleep(0)
    finals[4].cancel()
    results = await asyncio.gather(*finals, return_exceptions=True)
    assert isinstance(results[4], asyncio.CancelledError)
    assert all(normalized(r.text) == normalized(ANSWERS[2])  # type: ignore[union-attr]
               for i, r in enumerate(results) if i != 4)
    async with asyncio.timeout(10):  # its decode may have begun before the cancel
        while recognizer.busy:
            await asyncio.sleep(0.05)


async def test_a_shorter_window_same_text() -> None:
    rec = WhisperRecognizer(AsrSettings(window_s=10))
    try:
        result = await rec.transcribe(say(SENTENCES[0]), 8000, final=True)
        assert result is not None and normalized(result.text) == normalized(SENTENCES[0])
    finally:
        rec.close()


def test_a_missing_model_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="'asr.model'.*model.bin"):
        WhisperRecognizer(AsrSettings(model=tmp_path / "nowhere"))


def test_an_english_model_refuses_another_language() -> None:
    with pytest.raises(SettingsError, match="'asr.language'"):
        WhisperRecognizer(AsrSettings(language="de"))


def test_collapse_repetitions() -> None:
    assert collapse_repetitions("no no no") == ("no no no", False)
    assert collapse_repetitions("no answer. No answer. No answer. No answer.") == (
        "no answer.", True)
    assert collapse_repetitions("And all. And all. And all.") == ("And all.", True)
    echo = "Could you say that again? Could you say that again?"
    assert collapse_repetitions(echo, seconds=1.9) == ("Could you say that again?", True)
    assert collapse_repetitions(echo, seconds=4.0) == (echo, False)  # said twice, slowly
    assert collapse_repetitions("yes yes", seconds=0.3) == ("yes yes", False)


def test_a_lone_word_repeats_as_often_as_the_voice_bursts() -> None:
    assert collapse_repetitions("Three. Three.", bursts=1) == ("Three.", True)
    assert collapse_repetitions("Yes, yes, yes, yes.", bursts=2) == ("Yes, yes.", True)
    assert collapse_repetitions("No, no.", bursts=2) == ("No, no.", False)
    assert collapse_repetitions("two two", bursts=0) == ("two", True)
    assert collapse_repetitions("two for two", bursts=1) == ("two for two", False)


def test_voiced_bursts_tells_a_word_said_twice_from_once() -> None:
    rate = 16000
    word = (0.3 * np.sin(2 * np.pi * 300 * np.arange(int(0.3 * rate)) / rate)).astype(np.float32)
    pause = np.zeros(int(0.15 * rate), dtype=np.float32)
    assert voiced_bursts(np.concatenate([pause, word, pause])) == 1
    assert voiced_bursts(np.concatenate([pause, word, pause, word, pause])) == 2
    assert voiced_bursts(np.concatenate([pause, word, pause[:480], word])) == 1  # 30 ms apart
    assert voiced_bursts(np.zeros(rate, dtype=np.float32)) == 0


def test_recorded_digits_cut_as_a_call_does_come_back_once() -> None:
    """A call decodes only the endpointer's cut (300 ms before the voice, the
    80 ms pause probe after it) on the node's 10 s window, where tiny.en
    heard 12 of these 60 recorded digits twice ("three" as "three three")."""
    data = shared_path("real-speech-en")
    recognizer = WhisperRecognizer(AsrSettings(workers=1, window_s=10))
    with (data / "manifest.tsv").open(encoding="utf-8") as manifest:
        rows = [r for r in csv.DictReader(manifest, delimiter="\t") if r["set"] == "fsdd"]
    doubled = []
    try:
        for row in rows:
            with wave.open(str(data / row["file"])) as wav:
                pcm = wav.readframes(wav.getnframes())
            start = max(0.0, float(row["speech_start_s"]) - 0.3)
            end = float(row["speech_end_s"]) + 0.08
            cut = pcm[int(start * 8000) * 2:int(end * 8000) * 2]
            words = normalized(recognizer.transcribe_blocking(cut, 8000, final=True).text).split()
            if len(words) > 1 and len(set(words)) == 1:
                doubled.append(" ".join(words))
    finally:
        recognizer.close()
    assert len(rows) == 60 and len(doubled) <= 1, doubled


async def test_a_stream_fed_frame_by_frame(recognizer: WhisperRecognizer) -> None:
    """Real time: VAD, partials while speaking, then the final."""
    text = "My name is Margaret Thompson and I would like to cancel my appointment."
    stream = UtteranceStream(recognizer, 8000, partial_interval_ms=500)
    stream.listen(hints=["Margaret Thompson"])
    events: list[StreamEvent] = []

    async def collect() -> None:
        async for event in stream:
            if not isinstance(event, VoiceOnset):
                events.append(event)
            if isinstance(event, Final):
                return

    collector = asyncio.create_task(collect())
    started = time.monotonic()
    for i, frame in enumerate(frames(silence(0.4) + say(text) + silence(1.5))):
        stream.feed(frame)
        await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - time.monotonic()))
    async with asyncio.timeout(10):
        await collector
    await stream.aclose()
    assert isinstance(events[0], SpeechStarted)
    partials = [e for e in events if isinstance(e, Partial)]
    assert len(partials) >= 2
    assert all(not p.transcript.is_final for p in partials)
    final = events[-1]
    assert isinstance(final, Final)
    assert normalized(final.transcript.text) == normalized(text)
    assert final.latency_s < 2.0


async def test_recorded_yes_and_no_come_back_once(recognizer: WhisperRecognizer) -> None:
    """Real callers' one-word answers with the state's hints, as a call
    decodes them: no word comes back repeated (hotword biasing made "yes"
    "yes yes yes" on these clips)."""
    data = shared_path("real-speech-en")
    repeated = []
    with (data / "manifest.tsv").open(encoding="utf-8") as manifest:
        rows = [r for r in csv.DictReader(manifest, delimiter="\t") if r["slot"] in ("yes", "no")]
    for row in rows:
        with wave.open(str(data / row["file"])) as wav:
            pcm = wav.readframes(wav.getnframes())
        result = await recognizer.transcribe(pcm, 8000, final=True,
                                             hints=["yes", "no", "yeah", "nope", "correct"])
        assert result is not None
        if len(normalized(result.text).split()) > 1:
            repeated.append(result.text)
    assert len(rows) >= 15 and not repeated, repeated
