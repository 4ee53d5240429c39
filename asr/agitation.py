"""How agitated a caller sounds, utterance by utterance, against their own start.

One :class:`AgitationTracker` per call is fed each utterance's raw audio
(no transcript: words are the dialog's separate signal,
``dialog.agitation_words``). The first ``baseline_utterances``
utterances set the caller's own baseline (callers usually start calm); each
later one is scored against it:

- ``tone`` (0..1): how angry the change of voice sounds: pitch level and
  range, spectral tilt, voice quality and the spectrum's broad shape (a
  short mel-cepstrum), each against the baseline, read by two logistic
  models at once, one for arousal (is the voice raised at all?) and one
  for valence (angry rather than joyful?), plus a little for loudness.
  Weights are :class:`ToneWeights`; the defaults were fitted on the ten
  EmoDB speakers (``python bench/escalation.py --tune``). Loudness is
  capped at ``loudness_cap_db`` and feeds the arousal only, so a caller who
  is merely louder (a happy one, or a better line) cannot reach the
  threshold on loudness alone.
- ``pace`` (0..1): 0.5 when the speech rate is ``pace_ratio_at_half`` times
  the baseline's, rising towards 1 faster than that.

The scores are the kernel's :class:`callcenter.core.speech.UtteranceScores`.
Whether to escalate is the dialog's decision over the history
(:class:`dialog.escalation_policy.EscalationPolicy`), which adds the words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asr.prosody import CEPSTRUM_COEFFICIENTS, UtteranceProsody, measure_utterance
from callcenter.core.speech import CallTrend, ProsodyChange, UtteranceScores

__all__ = ["TONE_FEATURES", "AgitationConfig", "AgitationTracker", "Baseline", "CallTrend",
           "Logistic", "ProsodyChange", "ToneWeights", "UtteranceScores", "pace_score",
           "tone_features", "tone_logit", "tone_score"]

TONE_FEATURES: tuple[str, ...] = (
    "pitch_level_st", "pitch_range_st", "spectral_tilt_db", "high_band_db", "aperiodicity",
    "voiced_share", *(f"cepstrum_{i}" for i in range(1, CEPSTRUM_COEFFICIENTS + 1)))
"""What the tone score reads of a :class:`ProsodyChange`, in the order of
:attr:`Logistic.weights` (:func:`tone_features`)."""


@dataclass(frozen=True)
class Logistic:
    """One logistic model over :data:`TONE_FEATURES`: ``bias + weights . features``."""

    bias: float
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != len(TONE_FEATURES):
            raise ValueError(f"expected {len(TONE_FEATURES)} weights ({', '.join(TONE_FEATURES)}),"
                             f" got {len(self.weights)}")

    def logit(self, features: tuple[float, ...]) -> float:
        """The model's log-odds for `features` (from :func:`tone_features`)."""
        return self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))


@dataclass(frozen=True)
class ToneWeights:
    """The tone score's two models over the change from the caller's baseline.

    Anger is told by two questions asked together: is the voice aroused
    (``arousal``: angry and happy utterances against neutral ones) and is it
    angry rather than joyful (``valence``: angry against happy)? The tone is
    ``logistic(operating_shift + logit(p_arousal * p_valence))``: high only
    when both say yes, so an excited, happy caller (aroused, but not angry)
    stays low. Both models were fitted on all ten EmoDB speakers by
    L2-regularised logistic regression and ``operating_shift`` chosen by a
    rule fixed in advance on those speakers' leave-one-out scores
    (``bench/escalation.py --tune``; the bench's docstring has the protocol).
    A pitch rise counts up to ``pitch_rise_cap_st`` (an octave): joy raises
    the pitch at least as far as anger. Loudness is set by hand and adds to
    the arousal only, as EmoDB cannot teach it (its clips are
    level-normalised): at most ``loudness_per_db * loudness_cap_db`` (0.24)
    logits, and never to the valence, so a caller who is merely louder (a
    happy one, or a better line) cannot reach the threshold on loudness.
    """

    arousal: Logistic = Logistic(bias=-1.1722, weights=(
        0.1424, 0.0265, 0.0722, 0.1013, -2.8331, 0.7052,
        -0.0695, -0.0488, -0.0653, -0.1007, -0.0461))
    """Angry or happy against neutral: the pitch rises, the spectrum tilts up."""
    valence: Logistic = Logistic(bias=-1.0274, weights=(
        0.0146, -0.1501, 0.0412, 0.0324, 8.9722, -1.0966,
        -0.0069, -0.0063, -0.0885, -0.1013, 0.0574))
    """Angry against happy: a rougher voice, a narrower pitch range, fewer
    voiced frames and a flatter upper spectrum (cepstrum 3-4) than joy."""
    operating_shift: float = 0.2
    pitch_rise_cap_st: float = 12.0
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


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _mean_vector(vectors: list[tuple[float, ...] | None]) -> tuple[float, ...] | None:
    known = [v for v in vectors if v is not None]
    return tuple(float(x) for x in np.mean(known, axis=0)) if known else None


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
    cepstrum: tuple[float, ...] | None = None

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
            speech_rate=_mean([u.speech_rate for u in utterances]),
            cepstrum=_mean_vector([u.cepstrum for u in utterances]))

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
            speech_rate_ratio=rate_ratio,
            cepstrum=() if now.cepstrum is None or self.cepstrum is None else tuple(
                n - b for n, b in zip(now.cepstrum, self.cepstrum, strict=True)))


def _voiced_share(u: UtteranceProsody) -> float | None:
    return u.voiced_s / u.speech_s if u.speech_s > 0 else None


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def tone_features(change: ProsodyChange, pitch_rise_cap_st: float) -> tuple[float, ...]:
    """The values of :data:`TONE_FEATURES` in `change` (the pitch rise capped)."""
    cepstrum = change.cepstrum or (0.0,) * CEPSTRUM_COEFFICIENTS
    return (min(change.pitch_level_st, pitch_rise_cap_st), change.pitch_range_st,
            change.spectral_tilt_db, change.high_band_db, change.aperiodicity,
            change.voiced_share, *cepstrum)


def _log_logistic(x: float) -> float:
    """log(logistic(x)), without overflow."""
    return -math.log1p(math.exp(-x)) if x > -30.0 else x


def tone_logit(change: ProsodyChange, weights: ToneWeights) -> float:
    """The tone score's log-odds: ``operating_shift + logit(p_arousal * p_valence)``."""
    features = tone_features(change, weights.pitch_rise_cap_st)
    loudness = max(-weights.loudness_cap_db, min(weights.loudness_cap_db, change.loudness_db))
    log_p = (_log_logistic(weights.arousal.logit(features) + weights.loudness_per_db * loudness)
             + _log_logistic(weights.valence.logit(features)))
    log_p = min(log_p, -1e-12)
    return weights.operating_shift + log_p - math.log(-math.expm1(log_p))


def tone_score(change: ProsodyChange, weights: ToneWeights) -> float:
    """The tone score (0..1) of one change from the baseline."""
    return _logistic(tone_logit(change, weights))


def pace_score(change: ProsodyChange, config: AgitationConfig) -> float:
    """The pace score (0..1): 0.5 at ``pace_ratio_at_half`` times the baseline rate."""
    return _logistic(config.pace_slope * (math.log2(max(change.speech_rate_ratio, 1e-3))
                                          - math.log2(config.pace_ratio_at_half)))


class AgitationTracker:
    """One call's caller: feed each utterance, read its scores and the trend.

    Not thread-safe; one per call, fed one utterance at a time. :meth:`feed`
    costs about 3 ms per second of audio (the prosody measurement); a call
    runs it in a worker thread (``callcenter.caller_agitation``).
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

    def feed(self, audio: bytes | npt.NDArray[np.generic], rate: int, *,
             gap_s: float = 0.0) -> UtteranceScores:
        """Score one utterance of mono PCM16 at `rate` (8000 or 16000 Hz).

        `gap_s` is the silence before it that was not fed, so that
        ``end_s`` stays in call time.
        """
        return self.feed_prosody(measure_utterance(audio, rate), gap_s=gap_s)

    def feed_prosody(self, prosody: UtteranceProsody, *, gap_s: float = 0.0) -> UtteranceScores:
        """Score one utterance already measured by :func:`asr.prosody.measure_utterance`
        (:meth:`feed` does both; the bench replays measured clips through this)."""
        self._elapsed_s += gap_s + prosody.duration_s
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
                                 pace=pace, baseline=in_baseline, change=change)
        self.history.append(scores)
        return scores

    def trend(self, last: int = 4) -> CallTrend:
        """Mean and least-squares slope of agitation over the `last` scored
        utterances (baseline ones left out), and the call's peak."""
        return CallTrend.of(self.history, last)
