"""Real Piper synthesis with the bundled voice: streaming, cancellation, cache."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from callcenter.core.errors import SettingsError
from callcenter.core.speech import Synthesizer
from tts.piper_voice import PiperSynthesizer, trim_leading_silence
from tts.settings import TtsSettings

APPOINTMENT = "Hello. Your appointment is on 2026-12-03 at 14:30."
LONG = ("Thank you. This call may be recorded for quality and training purposes, and by staying "
        "on the line you agree to that. Your balance is $12.50. "
        "Your next payment is due on 2026-12-03. Press one to pay now. Press two for an agent.")


def _today() -> date:
    return date(2026, 11, 22)


@pytest.fixture(scope="module")
def cold() -> Iterator[PiperSynthesizer]:
    """No cache: every sentence is synthesized."""
    synth = PiperSynthesizer(TtsSettings(cache_memory_mb=0, cache_disk_mb=0), today=_today)
    yield synth
    synth.close()


async def _wait_idle(synth: PiperSynthesizer) -> None:
    for _ in range(500):
        if synth.stats.in_flight == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a sentence never finished")


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


async def test_streams_one_chunk_per_sentence_first_one_early(cold: PiperSynthesizer) -> None:
    synth: Synthesizer = cold  # the kernel's port
    assert cold.sentences(APPOINTMENT) == [
        "Hello.", "Your appointment is on Thursday, December third at two thirty PM."]
    chunks: list[bytes] = []
    start = time.perf_counter()
    first_at = 0.0
    async for chunk in synth.stream(APPOINTMENT, 8000):
        first_at = first_at or time.perf_counter() - start
        chunks.append(chunk)
    total = time.perf_counter() - start
    assert len(chunks) == 2
    assert first_at < total / 2, (first_at, total)
    pcm = b"".join(chunks)
    seconds = len(pcm) / 2 / 8000
    assert 2.5 < seconds < 8.0
    samples = _samples(pcm)
    assert np.sqrt(np.mean(samples**2)) > 1000
    # volume 0.9 leaves headroom (resampling may overshoot the peak a little)
    assert 20000 < np.max(np.abs(samples)) <= 0.95 * 32767
    assert len(chunks[0]) / 2 / 8000 < 1.5  # "Hello." alone


async def test_speech_starts_within_a_few_ms(cold: PiperSynthesizer) -> None:
    """Piper's ~40 ms lead-in is latency: trimmed to 10 ms."""
    samples = _samples(await cold.synthesize("Which day would you like instead?", 8000))
    first_loud = int(np.flatnonzero(np.abs(samples) >= 0.00316 * 32768)[0])
    assert 0.008 <= first_loud / 8000 <= 0.012
    assert np.max(np.abs(samples[:first_loud])) < 0.00316 * 32768


async def test_wideband_rate(cold: PiperSynthesizer) -> None:
    pcm = await cold.synthesize("Press one to pay now.", 16000)
    assert 0.8 < len(pcm) / 2 / 16000 < 3.0
    spectrum = np.abs(np.fft.rfft(_samples(pcm)))
    freqs = np.fft.rfftfreq(len(pcm) // 2, 1 / 16000)
    assert spectrum[freqs > 4000].sum() > 0.01 * spectrum.sum()  # wideband content kept


async def test_closing_the_stream_stops_synthesis(cold: PiperSynthesizer) -> None:
    await _wait_idle(cold)
    before = cold.stats.started
    stream = cold.stream(LONG, 8000)
    assert isinstance(stream, AsyncIterator)
    async with contextlib.aclosing(stream):
        await anext(stream)
        for _ in range(200):  # the next sentence is prefetched while this one plays
            if cold.stats.started - before == 2:
                break
            await asyncio.sleep(0.005)
    await _wait_idle(cold)
    await asyncio.sleep(0.3)
    assert cold.stats.started - before == 2, "6 sentences, only the first two synthesized"


async def test_cancelling_the_consumer_stops_synthesis(cold: PiperSynthesizer) -> None:
    await _wait_idle(cold)
    before = cold.stats.started
    got: list[bytes] = []
    first = asyncio.Event()

    async def play() -> None:
        async for chunk in cold.stream(LONG, 8000):
            got.append(chunk)
            first.set()

    consumer = asyncio.create_task(play())
    await first.wait()
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    # A sentence a worker took just before the cancel may still start and
    # finish (counted when the worker starts it); none starts after that.
    await _wait_idle(cold)
    started_by_then = cold.stats.started
    await asyncio.sleep(0.3)
    assert cold.stats.started == started_by_then, "nothing started after the cancel"
    assert len(got) < 6
    # The sentence awaited and the `prefetch` ahead of it, no more.
    assert cold.stats.started - before <= len(got) + 1 + cold.settings.prefetch


async def test_cache_hit_is_fast_and_survives_restart(tmp_path: Path) -> None:
    settings = TtsSettings(cache_dir=tmp_path / "tts-cache")
    first = PiperSynthesizer(settings, today=_today)
    try:
        start = time.perf_counter()
        cold_pcm = await first.synthesize(APPOINTMENT, 8000)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        assert await first.synthesize(APPOINTMENT, 8000) == cold_pcm
        memory_s = time.perf_counter() - start
        assert first.stats.started == 2
        assert cold_s / memory_s >= 20, (cold_s, memory_s)
    finally:
        first.close()
    assert len(list((tmp_path / "tts-cache").glob("*.pcm"))) == 2
    second = PiperSynthesizer(settings, today=_today)  # as after a restart
    try:
        start = time.perf_counter()
        assert await second.synthesize(APPOINTMENT, 8000) == cold_pcm
        disk_s = time.perf_counter() - start
        assert second.stats.started == 0
        assert second.cache is not None and second.cache.stats.disk_hits == 2
        assert cold_s / disk_s >= 20, (cold_s, disk_s)
        await second.synthesize(APPOINTMENT, 16000)  # another rate is another entry
        assert second.stats.started == 2
    finally:
        second.close()


async def test_render_ahead_fills_the_cache_on_a_lowest_priority_thread(
        tmp_path: Path) -> None:
    synth = PiperSynthesizer(TtsSettings(cache_dir=tmp_path / "tts-cache"), today=_today)
    try:
        assert await synth.render_ahead(APPOINTMENT, 8000) == 2  # two sentences
        assert await synth.render_ahead(APPOINTMENT, 8000) == 0  # cached: nothing to do
        ahead = [t for t in threading.enumerate() if t.name.startswith("piper-ahead")]
        assert ahead and all(os.getpriority(os.PRIO_PROCESS, t.native_id or 0) == 19
                             for t in ahead)
        before = synth.stats.started
        await synth.synthesize(APPOINTMENT, 8000)  # what a call then says is a cache hit
        assert synth.stats.started == before
    finally:
        synth.close()


async def test_empty_text_yields_nothing(cold: PiperSynthesizer) -> None:
    assert [c async for c in cold.stream(" ... ", 8000)] == []


def test_missing_voice_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"tts\.voice.*not found"):
        PiperSynthesizer(TtsSettings(voice=tmp_path / "nope.onnx"))
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"not a model")
    with pytest.raises(SettingsError, match=r"tts\.voice.*onnx\.json"):
        PiperSynthesizer(TtsSettings(voice=lone))
    Path(f"{lone}.json").write_text("{}")
    with pytest.raises(SettingsError, match=r"tts\.voice.*cannot load"):
        PiperSynthesizer(TtsSettings(voice=lone))


def test_trimming_keeps_silence_and_sound_alone() -> None:
    silent = np.zeros(800, dtype=np.float32)
    assert trim_leading_silence(silent, 8000) is silent
    tone = np.full(100, 0.5, dtype=np.float32)
    assert len(trim_leading_silence(np.concatenate([silent, tone]), 8000)) == 80 + 100
    assert len(trim_leading_silence(tone, 8000)) == 100
