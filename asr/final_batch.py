"""Finals of several calls decoded together when more wait than there are workers.

CTranslate2 decodes a batch of utterances in less CPU than the same
utterances one after another: on one core, four real-speech sentences
(4-7 s, 10 s windows, beam 2) took 867 ms together against 1395 ms one by
one, two took 548 against 823. But each final in a batch comes back only
with the whole batch, later than alone: with 8 conversations on 2 cores,
batching whenever two finals waited made replies slower (voice to voice
p95 750 ms against 581 one by one), because a worker soon frees up for
the second. So a worker batches only when more finals wait than the pool
has workers (a backlog no worker can clear in one decode): it takes the
oldest and its kin, its share of the backlog, up to ``asr.final_batch``.
A final that finds a free worker is decoded at once.

    waiting = FinalQueue(most=4)
    waiting.put(WaitingFinal(pcm, 8000, FinalKey(1000, prompt), budget=24))
    batch = waiting.take(workers=2)  # in a worker: the oldest final and its kin
    texts = decode_together(model, tokenizer, batch[0].key, audios, [f.budget for f in batch],
                            beam_size=2)

Finals decode together only when they share an encoder window and a
prompt (hints), and decode exactly as faster-whisper's ``transcribe`` does
for one short segment at one temperature: the same features, prompt,
suppressed tokens, beam and "no speech" test (the same text, word for
word, on 32 recorded clips decoded one at a time; in batches a close beam
may tip: 47 of 48 the same in bench/asr_batch.py). One ``max_length`` serves the
batch (the largest budget); each final's tokens are then cut to its own.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import ctranslate2
import numpy as np
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from callcenter.core.speech import Transcript

# The "no speech" test of a final (faster-whisper's defaults), on both paths.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
_MAX_INITIAL_TIMESTAMP_INDEX = 50  # 1.0 s at Whisper's 0.02 s precision


class FinalKey(NamedTuple):
    """What finals must share to decode together: the encoder window (mel
    frames) and the decoder's prompt (token ids)."""

    frames: int
    prompt: tuple[int, ...]


@dataclass(eq=False)
class WaitingFinal:
    """One utterance's final waiting for a worker: mono PCM16 `pcm` at
    `rate`, at most `budget` new tokens; `done` receives its transcript."""

    pcm: bytes
    rate: int
    key: FinalKey
    budget: int
    done: Future[Transcript] = field(default_factory=Future)


class FinalQueue:
    """Finals waiting for a worker, handed out oldest first, with the other
    waiting finals of the same key (up to `most` in all)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._waiting: deque[WaitingFinal] = deque()
        self._lock = threading.Lock()
        self.batches = 0
        self.batched = 0  # finals decoded in a batch of two or more

    def put(self, final: WaitingFinal) -> None:
        """Queue `final` (a worker run must be submitted for it)."""
        with self._lock:
            self._waiting.append(final)

    def take(self, workers: int = 1) -> list[WaitingFinal]:
        """The oldest waiting final and its kin, for one of the pool's
        `workers`: a batch only when more finals wait than there are workers
        (each takes its share of the backlog), else the oldest alone. Empty
        when other workers already took them."""
        with self._lock:
            if not self._waiting:
                return []
            size = min(self.most, math.ceil(len(self._waiting) / max(1, workers)))
            first = self._waiting.popleft()
            batch = [first]
            for other in list(self._waiting):
                if len(batch) >= size:
                    break
                if other.key == first.key:
                    self._waiting.remove(other)
                    batch.append(other)
            if len(batch) > 1:
                self.batches += 1
                self.batched += len(batch)
            return batch

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)


class Decoded(NamedTuple):
    """A final's decoded text with its mean token log-probability."""

    text: str
    avg_logprob: float
    tokens: int


def decode_together(model: Any, tokenizer: Tokenizer, key: FinalKey,
                    audios: Sequence[np.ndarray], budgets: Sequence[int], *,
                    beam_size: int) -> list[Decoded]:
    """Decode `audios` (16 kHz) in one encoder and one decoder call, each
    with at most its `budgets` new tokens.

    `model` is the faster-whisper ``WhisperModel`` (its feature extractor
    and CTranslate2 model). Blocks: call it in a worker.
    """
    frames, prompt = key
    features = [pad_or_trim(model.feature_extractor(audio)[..., :-1], frames)
                for audio in audios]
    batch = ctranslate2.StorageView.from_array(
        np.ascontiguousarray(np.stack(features), dtype=np.float32))
    encoded = model.model.encode(batch, to_cpu=False)
    results = model.model.generate(
        encoded, [list(prompt)] * len(audios), beam_size=beam_size, patience=1.0,
        length_penalty=1.0, max_length=len(prompt) + max(budgets),
        return_scores=True, return_no_speech_prob=True, suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        max_initial_timestamp_index=_MAX_INITIAL_TIMESTAMP_INDEX)
    decoded = []
    for budget, result in zip(budgets, results, strict=True):
        tokens = result.sequences_ids[0][:budget]
        count = len(tokens)
        # faster-whisper's recovery of the mean log-probability (length penalty 1)
        avg_logprob = result.scores[0] * count / (count + 1)
        silent = (result.no_speech_prob > NO_SPEECH_THRESHOLD
                  and not avg_logprob > LOG_PROB_THRESHOLD)
        if silent or not tokens:
            decoded.append(Decoded("", -math.inf, 0))
        else:
            decoded.append(Decoded(tokenizer.decode(tokens).strip(), avg_logprob, count))
    return decoded
