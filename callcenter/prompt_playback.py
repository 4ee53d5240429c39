"""What of a prompt the caller actually heard, for the transcript.

A prompt is played sentence by sentence (the synthesizer streams one chunk
of audio per sentence) and may be cut: by the caller's barge-in, by a hold
(the prompt then plays again once the call is back) or by their hang-up.
The transcript then keeps what was played, not what was meant:

- ``text``: the words played so far. Sentences whose audio had all played
  count whole; in the sentence that was cut, the share of its words equal
  to the share of its audio that played (rounded down). An approximation:
  speech is not spread evenly over words, and the bridge plays up to about
  100 ms behind what was handed to it.
- ``cut``: ``"barge_in"``, ``"hold"`` or ``"hangup"`` (None: played to the end);
- ``played_s``: seconds of the prompt's audio played before the cut;
- ``full_text``: the whole prompt.

Playout is modelled, not observed: each chunk starts when it was handed to
the call or when the chunk before it ends, whichever is later (a chunk
synthesized late leaves a gap), and plays in real time. The chunks are
matched to the sentences of the prompt's text in order; a synthesizer that
cut a sentence into more chunks than that adds them to the last sentence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Cut = Literal["barge_in", "hold", "hangup"]


@dataclass(frozen=True)
class PlayedPrompt:
    """One prompt as the caller heard it (see the module's docstring)."""

    full_text: str
    text: str
    cut: Cut | None
    played_s: float
    started_at: datetime
    ended_at: datetime

    def data(self) -> dict[str, Any]:
        """What a cut prompt adds to its turn's data ({} when it played whole)."""
        if self.cut is None:
            return {}
        return {"cut": self.cut, "played_s": round(self.played_s, 2),
                "full_text": self.full_text}


class PromptPlayback:
    """Follows one prompt's chunks as they are handed to the call."""

    def __init__(self, text: str, sentences: Sequence[str], rate: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`sentences`: `text` split as the synthesizer splits it; `rate`:
        the PCM16 mono rate of the chunks."""
        self.text = text
        self._sentences = list(sentences) or [text]
        self._rate = rate
        self._clock = clock
        self._starts: list[float] = []  # modelled playout start of each chunk
        self._durations: list[float] = []

    def queued(self, pcm: bytes) -> None:
        """A chunk (one sentence's audio) was handed to the call just now."""
        now = self._clock()
        free_at = self._starts[-1] + self._durations[-1] if self._starts else now
        self._starts.append(max(now, free_at))
        self._durations.append(len(pcm) / 2 / self._rate)

    def played(self, cut: Cut | None, at: float | None, started_at: datetime,
               ended_at: datetime) -> PlayedPrompt:
        """The prompt as heard: whole when `cut` is None, else up to
        `at` (the clock's time of the cut)."""
        if cut is None or at is None:
            seconds = sum(self._durations)
            return PlayedPrompt(self.text, self.text, None, seconds, started_at, ended_at)
        shares = [min(max((at - start) / length, 0.0), 1.0) if length > 0 else 1.0
                  for start, length in zip(self._starts, self._durations, strict=True)]
        seconds = sum(s * d for s, d in zip(shares, self._durations, strict=True))
        return PlayedPrompt(self.text, self._words(shares), cut, seconds, started_at, ended_at)

    def _words(self, shares: list[float]) -> str:
        """The words of the sentences as far as `shares` (of each chunk) reach."""
        last = len(self._sentences) - 1
        per_sentence = [0.0] * len(self._sentences)
        weights = [0.0] * len(self._sentences)
        for i, (share, length) in enumerate(zip(shares, self._durations, strict=True)):
            per_sentence[min(i, last)] += share * length
            weights[min(i, last)] += length
        words: list[str] = []
        for sentence, played, length in zip(self._sentences, per_sentence, weights,
                                            strict=True):
            tokens = sentence.split()
            share = played / length if length > 0 else 0.0
            if share >= 1.0 - 1e-9:
                words.extend(tokens)
                continue
            words.extend(tokens[:math.floor(len(tokens) * share + 1e-9)])
            break
        return " ".join(words)
