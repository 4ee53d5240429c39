"""Ports for speech: what the conversation needs from recognition and synthesis.

`asr/` and `tts/` implement these; the composition root wires them to calls;
tests use fakes. Audio is always mono PCM16 little-endian at an explicit rate.
The agitation scores of each utterance (``asr.agitation`` measures them, the
dialog's escalation policy decides on them) are here too, so both sides can
share them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Transcript:
    """A recognition result for (part of) one utterance."""

    text: str
    is_final: bool
    confidence: float = 0.0  # 0..1, from the recognizer's log-probabilities
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0


class Recognizer(Protocol):
    """Speech to text, one utterance (or its prefix, for a partial) at a time."""

    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        """Recognize `pcm`. A partial (``final=False``) may be skipped under
        load (returns None); a final never is. `hints` bias recognition
        toward expected words (menu options, names)."""


class Synthesizer(Protocol):
    """Text to speech, streamed sentence by sentence."""

    def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 at `rate`, one chunk per sentence as soon as it is ready.
        Closing the iterator (or cancelling its consumer) stops synthesis."""


# -- how a caller sounds: scores the listening side gives the dialog ---------------


@dataclass(frozen=True)
class ProsodyChange:
    """One utterance against the caller's own calm baseline; 0 (or 1 for
    the rate ratio) where either side was unmeasurable. ``asr.agitation``
    measures it; it travels with the scores so an escalation can say why."""

    pitch_level_st: float = 0.0
    pitch_range_st: float = 0.0
    spectral_tilt_db: float = 0.0
    high_band_db: float = 0.0
    aperiodicity: float = 0.0
    voiced_share: float = 0.0
    loudness_db: float = 0.0
    speech_rate_ratio: float = 1.0
    cepstrum: tuple[float, ...] = ()
    """Mel-cepstral coefficients 1..5 (the spectrum's broad shape) minus the
    baseline's; empty where either side was unmeasurable."""


@dataclass(frozen=True)
class UtteranceScores:
    """How agitated one utterance of a call sounded, each score in 0..1.

    ``tone`` and ``pace`` come from the raw audio (``asr.agitation``), 0 for
    the caller's first (``baseline``) utterances; ``words`` from its
    transcript (``dialog.agitation_words``), 0 until the dialog adds it.
    ``agitation`` is the strongest of the three.
    """

    index: int
    """The utterance's number in the call, from 0."""
    end_s: float
    """Call time (audio heard so far, pauses included) at the utterance's end."""
    tone: float
    pace: float
    words: float = 0.0
    baseline: bool = False
    word_hits: tuple[str, ...] = ()
    change: ProsodyChange | None = None
    """The measured change behind ``tone`` and ``pace`` (None: not scored)."""

    @property
    def agitation(self) -> float:
        """The strongest signal of the three."""
        return max(self.tone, self.pace, self.words)

    def as_dict(self) -> dict[str, Any]:
        """A short JSON-able form for events: scores rounded to 3 places."""
        out: dict[str, Any] = {"utterance": self.index, "tone": round(self.tone, 3),
                               "pace": round(self.pace, 3), "words": round(self.words, 3)}
        if self.word_hits:
            out["word_hits"] = list(self.word_hits)
        if self.baseline:
            out["baseline"] = True
        return out


@dataclass(frozen=True)
class CallTrend:
    """Agitation over a call so far: mean and slope (per utterance) of the
    last scored utterances, and the peak of the whole call."""

    mean: float
    slope: float
    peak: float
    utterances: int

    @classmethod
    def of(cls, history: Sequence[UtteranceScores], last: int = 4) -> CallTrend:
        """The trend of `history` (oldest first): baseline utterances left
        out, mean and least-squares slope over the `last` scored ones."""
        scored = [s.agitation for s in history if not s.baseline]
        recent = scored[-last:]
        if not recent:
            return cls(mean=0.0, slope=0.0, peak=0.0, utterances=0)
        count = len(recent)
        mean = sum(recent) / count
        centre = (count - 1) / 2
        spread = sum((i - centre) ** 2 for i in range(count))
        slope = (sum((i - centre) * (v - mean) for i, v in enumerate(recent)) / spread
                 if spread else 0.0)
        return cls(mean=mean, slope=slope, peak=max(scored), utterances=len(scored))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form for events, rounded to 3 places."""
        return {"mean": round(self.mean, 3), "slope": round(self.slope, 3),
                "peak": round(self.peak, 3), "utterances": self.utterances}
