"""How agitated a caller sounds, utterance by utterance, against their own start.

One :class:`AgitationTracker` per call is fed each utterance's audio (and,
when there is one, its transcript). The first ``baseline_utterances``
utterances set the caller's own baseline (callers usually start calm); each
later one is scored against it:

- ``tone`` (0..1): a logistic score of how the voice changed: pitch raised
  (up to an octave), pitch range narrowed, spectrum tilted towards the
  highs, voice rougher, and a little for loudness. Weights are
  :class:`ToneWeights`; the defaults were fitted on half of the EmoDB
  speakers (``python bench/escalation.py --tune``). Loudness is capped at
  ``loudness_cap_db``, so a caller who is merely louder (a happy one, or a
  better line) cannot reach the threshold on loudness alone.
- ``pace`` (0..1): 0.5 when the speech rate is ``pace_ratio_at_half`` times
  the baseline's, rising towards 1 faster than that.
- ``words`` (0..1): :func:`word_signal` of the transcript: profanity or a
  demand for a supervisor counts fully, complaint words half each.

``agitation`` is the strongest of the three. Whether to escalate is the
pure :class:`asr.escalation.EscalationPolicy`'s decision over the history.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asr.prosody import UtteranceProsody, measure_utterance

STRONG_WORDS = (
    r"supervisor", r"manager", r"lawyers?", r"attorney", r"real person",
    r"fuck\w*", r"shit\w*", r"bullshit", r"damn\w*", r"crap", r"bloody", r"hell",
    r"ass(hole)?", r"bastards?", r"idiots?", r"screw (this|you|it)")
COMPLAINT_WORDS = (
    r"complaint", r"complain(ing)?", r"ridiculous", r"unacceptable", r"useless",
    r"stupid", r"fed up", r"sick of", r"waste of (my )?time",
    r"joke", r"outrageous", r"furious", r"angry", r"(third|fourth|fifth) time",
    r"(nobody|no one) (ever )?(helps|listens)")
_STRONG = re.compile(r"\b(" + "|".join(STRONG_WORDS) + r")\b", re.IGNORECASE)
_COMPLAINT = re.compile(r"\b(" + "|".join(COMPLAINT_WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class WordSignal:
    """Agitation heard in the words: ``score`` in 0..1 and the words behind it."""

    score: float
    hits: tuple[str, ...]


def word_signal(text: str) -> WordSignal:
    """Score a transcript for agitation words (English, as Whisper writes it).

    Profanity and asking for a supervisor, a manager or a lawyer count 1.0;
    each complaint word ("complaint", "ridiculous", "third time", ...) 0.5;
    the sum is capped at 1. Words a patient may use about their health
    ("terrible", "awful") are left out on purpose, and so are names that
    look like words ("Sue").
    """
    strong = [m.group(0).lower() for m in _STRONG.finditer(text)]
    weak = [m.group(0).lower() for m in _COMPLAINT.finditer(text)]
    return WordSignal(score=min(1.0, len(strong) + 0.5 * len(weak)), hits=tuple(strong + weak))


@dataclass(frozen=True)
class ToneWeights:
    """Logistic weights of the tone score, per unit of change from the baseline.

    Fitted on EmoDB's training speakers, angry utterances against neutral
    and happy ones (``bench/escalation.py --tune``), with the bias then
    moved by -0.2 so that 0.5 is the operating point chosen on the same
    speakers. A pitch rise counts up to ``pitch_rise_cap_st`` (an octave):
    joy raises the pitch at least as far as anger, so beyond that a higher
    pitch says nothing more about anger. Loudness is set by hand, as EmoDB
    cannot teach it (its clips are level-normalised): at most
    ``loudness_per_db * loudness_cap_db`` (0.24) logits come from loudness,
    about what 1.5 semitones of pitch give.
    Real vocal effort also raises the pitch and tilts the spectrum; a mere
    gain (a closer phone, a better line) does neither.
    """

    bias: float = -2.71
    pitch_level_per_st: float = 0.157
    """Median pitch, semitones above the baseline: any arousal raises it."""
    pitch_rise_cap_st: float = 12.0
    pitch_range_per_st: float = -0.368
    """Pitch range (10th-90th percentile): happy speech widens it, anger flattens it."""
    spectral_tilt_per_db: float = 0.124
    """Power above 1 kHz over below: a tense, pressed voice raises it."""
    high_band_per_db: float = 0.130
    """Power 2-3.4 kHz over 0.3-2 kHz."""
    aperiodicity_per_unit: float = 22.5
    """Median YIN aperiodicity of voiced frames: a rough voice raises it."""
    voiced_share_per_unit: float = -0.118
    """Share of speech frames with a clear pitch: lower in harsh speech."""
    loudness_per_db: float = 0.04
    loudness_cap_db: float = 6.0


@dataclass(frozen=True)
class AgitationConfig:
    """Per-call scoring. ``baseline_utterances``: how many of the caller's
    first voiced utterances make the baseline (they are never scored)."""

    baseline_utterances: int = 2
    tone: ToneWeights = field(default_factory=ToneWeights)
    pace_ratio_at_half: float = 1.5
    """Speech-rate ratio to the baseline that scores 0.5 for pace."""
    pace_slope: float = 8.0
    """Steepness of the pace score, per doubling of the rate ratio."""
    min_voiced_s: float = 0.2
    """Utterances with less voiced audio are not scored on tone or pace."""

    def __post_init__(self) -> None:
        if self.baseline_utterances < 1:
            raise ValueError("baseline_utterances must be at least 1")
        if self.pace_ratio_at_half <= 1.0 or self.pace_slope <= 0:
            raise ValueError("need pace_ratio_at_half > 1 and pace_slope > 0")


@dataclass(frozen=True)
class ProsodyChange:
    """One utterance against the baseline; 0 where either side was unmeasurable."""

    pitch_level_st: float = 0.0
    pitch_range_st: float = 0.0
    spectral_tilt_db: float = 0.0
    high_band_db: float = 0.0
    aperiodicity: float = 0.0
    voiced_share: float = 0.0
    loudness_db: float = 0.0
    speech_rate_ratio: float = 1.0


@dataclass(frozen=True)
class UtteranceScores:
    """Scores of one utterance, each 0..1; ``agitation`` is their maximum.

    ``baseline`` utterances (the first ones) score 0 on tone and pace.
    """

    index: int
    end_s: float
    """Call time (sum of the durations fed so far) at the utterance's end."""
    tone: float
    pace: float
    words: float
    baseline: bool = False
    word_hits: tuple[str, ...] = ()
    change: ProsodyChange | None = None
    """The measured change behind ``tone`` and ``pace`` (None: not scored)."""

    @property
    def agitation(self) -> float:
        return max(self.tone, self.pace, self.words)


@dataclass(frozen=True)
class CallTrend:
    """Agitation over a call so far: mean and slope (per utterance) of the
    last scored utterances, and the peak of the whole call."""

    mean: float
    slope: float
    peak: float
    utterances: int


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _semitones(hz: float | None) -> float | None:
    return None if hz is None else 12.0 * math.log2(hz)


def _difference(now: float | None, base: float | None) -> float:
    return 0.0 if now is None or base is None else now - base


@dataclass(frozen=True)
class Baseline:
    """The caller's own calm voice: means over the baseline utterances."""

    pitch_st: float | None
    pitch_range_st: float | None
    spectral_tilt_db: float | None
    high_band_db: float | None
    aperiodicity: float | None
    voiced_share: float | None
    loudness_dbfs: float | None
    speech_rate: float | None

    @classmethod
    def of(cls, utterances: list[UtteranceProsody]) -> Baseline:
        """The baseline made of `utterances` (measured by :mod:`asr.prosody`)."""
        return cls(
            pitch_st=_mean([_semitones(u.pitch_median_hz) for u in utterances]),
            pitch_range_st=_mean([u.pitch_range_st for u in utterances]),
            spectral_tilt_db=_mean([u.spectral_tilt_db for u in utterances]),
            high_band_db=_mean([u.high_band_ratio_db for u in utterances]),
            aperiodicity=_mean([u.aperiodicity for u in utterances]),
            voiced_share=_mean([_voiced_share(u) for u in utterances]),
            loudness_dbfs=_mean([u.loudness_dbfs for u in utterances]),
            speech_rate=_mean([u.speech_rate for u in utterances]))

    def change(self, now: UtteranceProsody) -> ProsodyChange:
        """How `now` differs from this baseline."""
        rate_ratio = 1.0
        if now.speech_rate and self.speech_rate:
            rate_ratio = now.speech_rate / self.speech_rate
        return ProsodyChange(
            pitch_level_st=_difference(_semitones(now.pitch_median_hz), self.pitch_st),
            pitch_range_st=_difference(now.pitch_range_st, self.pitch_range_st),
            spectral_tilt_db=_difference(now.spectral_tilt_db, self.spectral_tilt_db),
            high_band_db=_difference(now.high_band_ratio_db, self.high_band_db),
            aperiodicity=_difference(now.aperiodicity, self.aperiodicity),
            voiced_share=_difference(_voiced_share(now), self.voiced_share),
            loudness_db=_difference(now.loudness_dbfs, self.loudness_dbfs),
            speech_rate_ratio=rate_ratio)


def _voiced_share(u: UtteranceProsody) -> float | None:
    return u.voiced_s / u.speech_s if u.speech_s > 0 else None


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def tone_score(change: ProsodyChange, weights: ToneWeights) -> float:
    """The tone score (0..1) of one change from the baseline."""
    loudness = max(-weights.loudness_cap_db, min(weights.loudness_cap_db, change.loudness_db))
    return _logistic(
        weights.bias
        + weights.pitch_level_per_st * min(change.pitch_level_st, weights.pitch_rise_cap_st)
        + weights.pitch_range_per_st * change.pitch_range_st
        + weights.spectral_tilt_per_db * change.spectral_tilt_db
        + weights.high_band_per_db * change.high_band_db
        + weights.aperiodicity_per_unit * change.aperiodicity
        + weights.voiced_share_per_unit * change.voiced_share
        + weights.loudness_per_db * loudness)


def pace_score(change: ProsodyChange, config: AgitationConfig) -> float:
    """The pace score (0..1): 0.5 at ``pace_ratio_at_half`` times the baseline rate."""
    return _logistic(config.pace_slope * (math.log2(max(change.speech_rate_ratio, 1e-3))
                                          - math.log2(config.pace_ratio_at_half)))


class AgitationTracker:
    """One call's caller: feed each utterance, read its scores and the trend.

    Not thread-safe; one per call. :meth:`feed` costs about 3 ms per second
    of audio (the prosody measurement), so it may run on the event loop for
    short utterances or in a worker with the transcript.
    """

    def __init__(self, config: AgitationConfig | None = None) -> None:
        self.config = config or AgitationConfig()
        self.history: list[UtteranceScores] = []
        self._calm: list[UtteranceProsody] = []
        self._baseline: Baseline | None = None
        self._elapsed_s = 0.0

    @property
    def baseline(self) -> Baseline | None:
        """The caller's baseline once enough utterances were heard, else None."""
        return self._baseline

    def feed(self, audio: bytes | npt.NDArray[np.generic], rate: int,
             transcript: str | None = None, *, gap_s: float = 0.0) -> UtteranceScores:
        """Score one utterance of mono PCM16 at `rate` (8000 or 16000 Hz).

        `gap_s` is the silence before it that was not fed, so that
        ``end_s`` stays in call time.
        """
        prosody = measure_utterance(audio, rate)
        self._elapsed_s += gap_s + prosody.duration_s
        words = word_signal(transcript) if transcript else WordSignal(0.0, ())
        tone = pace = 0.0
        change: ProsodyChange | None = None
        in_baseline = self._baseline is None
        if in_baseline:
            if prosody.voiced_s >= self.config.min_voiced_s:
                self._calm.append(prosody)
            if len(self._calm) >= self.config.baseline_utterances:
                self._baseline = Baseline.of(self._calm)
        elif prosody.voiced_s >= self.config.min_voiced_s:
            assert self._baseline is not None
            change = self._baseline.change(prosody)
            tone = tone_score(change, self.config.tone)
            pace = pace_score(change, self.config)
        scores = UtteranceScores(index=len(self.history), end_s=self._elapsed_s, tone=tone,
                                 pace=pace, words=words.score, baseline=in_baseline,
                                 word_hits=words.hits, change=change)
        self.history.append(scores)
        return scores

    def trend(self, last: int = 4) -> CallTrend:
        """Mean and least-squares slope of agitation over the `last` scored
        utterances (baseline ones left out), and the call's peak."""
        scored = [s.agitation for s in self.history if not s.baseline]
        recent = scored[-last:]
        if not recent:
            return CallTrend(mean=0.0, slope=0.0, peak=0.0, utterances=0)
        slope = float(np.polyfit(np.arange(len(recent)), recent, 1)[0]) if len(recent) > 1 \
            else 0.0
        return CallTrend(mean=float(np.mean(recent)), slope=slope, peak=max(scored),
                         utterances=len(scored))
