"""Tone and pace analysis: prosody measures and agitation scores.

Synthetic signals for the measures (the policy's own tests are in
tests/dialog/test_escalation_policy.py), and a few real EmoDB calls
through tracker and policy together (``shared/testdata/emotion-emodb``; see the ``emodb``
fixture for when they skip).
"""

from __future__ import annotations

import csv
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from asr.agitation import AgitationConfig, AgitationTracker
from asr.prosody import measure_utterance, yin_pitch
from dialog.escalation_policy import EscalationConfig, EscalationWatch

RATE = 8000


def voice(f0: float, seconds: float = 1.5, rate: int = RATE, level: float = 0.1,
          first_harmonic: int = 1, syllables_per_s: float = 0.0,
          brightness: float = 1.0, vibrato_st: float = 0.0) -> np.ndarray:
    """A harmonic tone as PCM16: harmonics up to 3.4 kHz falling as
    1/k**(1/brightness), optionally amplitude-modulated into syllables and
    with a slow pitch wobble (`vibrato_st` semitones peak to peak)."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * 2.0 ** (vibrato_st / 24.0 * np.sin(2 * np.pi * 1.5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    x = sum(np.sin(k * phase) / k ** (1.0 / brightness)
            for k in range(first_harmonic, int(3400 // f0) + 1))
    x = np.asarray(x, dtype=np.float64)
    x *= level / np.sqrt(np.mean(x**2))
    if syllables_per_s:
        x *= (0.5 - 0.5 * np.cos(2 * np.pi * syllables_per_s * t)) ** 2
    return np.asarray(np.clip(x, -1, 1) * 32767, dtype=np.int16)


# -- measures ---------------------------------------------------------------


@pytest.mark.parametrize("f0", [95.0, 140.0, 210.0, 320.0])
def test_pitch_of_a_harmonic_tone_without_its_fundamental(f0: float) -> None:
    # The telephone band cuts below 300 Hz: low voices lose their first harmonics.
    first = int(np.ceil(300 / f0))
    prosody = measure_utterance(voice(f0, first_harmonic=first), RATE)
    assert prosody.pitch_median_hz == pytest.approx(f0, rel=0.02)
    assert prosody.pitch_range_st is not None and prosody.pitch_range_st < 0.5
    assert prosody.voiced_s > 1.2


def test_yin_marks_noise_aperiodic() -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, RATE)
    _, aperiodicity = yin_pitch(noise)
    assert float(np.median(aperiodicity)) > 0.5


def test_16_khz_gives_the_numbers_of_8_khz() -> None:
    narrow = measure_utterance(voice(180.0), RATE)
    wide = measure_utterance(voice(180.0, rate=16000), 16000)
    assert wide.pitch_median_hz == pytest.approx(narrow.pitch_median_hz, rel=0.01)
    assert wide.loudness_dbfs == pytest.approx(narrow.loudness_dbfs, abs=0.5)
    assert wide.spectral_tilt_db == pytest.approx(narrow.spectral_tilt_db, abs=1.0)


def test_bytes_and_arrays_are_the_same_audio() -> None:
    samples = voice(150.0)
    assert measure_utterance(samples.tobytes(), RATE) == measure_utterance(samples, RATE)


def test_loudness_follows_the_gain_and_ignores_surrounding_silence() -> None:
    quiet = voice(150.0, level=0.05)
    loud = voice(150.0, level=0.1)
    padded = np.concatenate([np.zeros(RATE // 2, np.int16), quiet, np.zeros(RATE, np.int16)])
    q, lo, p = (measure_utterance(x, RATE) for x in (quiet, loud, padded))
    assert lo.loudness_dbfs is not None and q.loudness_dbfs is not None
    assert lo.loudness_dbfs - q.loudness_dbfs == pytest.approx(6.0, abs=0.2)
    assert p.loudness_dbfs == pytest.approx(q.loudness_dbfs, abs=0.3)


def test_brighter_voice_has_more_spectral_tilt() -> None:
    dull = measure_utterance(voice(150.0, brightness=0.7), RATE)
    bright = measure_utterance(voice(150.0, brightness=2.0), RATE)
    assert bright.spectral_tilt_db is not None and dull.spectral_tilt_db is not None
    assert bright.spectral_tilt_db > dull.spectral_tilt_db + 6


@pytest.mark.parametrize("syllables_per_s", [3.0, 4.0, 6.0])
def test_syllable_nuclei_of_an_amplitude_modulated_voice(syllables_per_s: float) -> None:
    prosody = measure_utterance(voice(160.0, seconds=2.0, syllables_per_s=syllables_per_s),
                                RATE)
    assert abs(prosody.syllable_nuclei - 2 * syllables_per_s) <= 1


def test_faster_syllables_give_a_higher_speech_rate() -> None:
    slow = measure_utterance(voice(160.0, seconds=2.0, syllables_per_s=3.0), RATE)
    fast = measure_utterance(voice(160.0, seconds=2.0, syllables_per_s=6.0), RATE)
    assert slow.speech_rate is not None and fast.speech_rate is not None
    assert fast.speech_rate / slow.speech_rate > 1.4


def test_silence_is_measured_as_nothing() -> None:
    prosody = measure_utterance(np.zeros(RATE, np.int16), RATE)
    assert prosody.voiced_s == 0 and prosody.speech_s == 0
    assert prosody.pitch_median_hz is None and prosody.loudness_dbfs is None
    assert prosody.speech_rate is None and prosody.syllable_nuclei == 0
    assert measure_utterance(b"", RATE).duration_s == 0


def test_unsupported_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported rate"):
        measure_utterance(voice(150.0), 11025)


# -- tracker ----------------------------------------------------------------


def test_baseline_utterances_are_not_scored() -> None:
    tracker = AgitationTracker()
    first = tracker.feed(voice(150.0), RATE)
    assert first.baseline and first.tone == 0.0 and tracker.baseline is None
    second = tracker.feed(voice(150.0), RATE)
    assert second.baseline and tracker.baseline is not None
    third = tracker.feed(voice(150.0), RATE, gap_s=1.0)
    assert not third.baseline
    assert third.end_s == pytest.approx(1.5 * 3 + 1.0)


def test_an_utterance_without_voice_does_not_count_for_the_baseline() -> None:
    tracker = AgitationTracker()
    tracker.feed(np.zeros(RATE, np.int16), RATE)
    tracker.feed(voice(150.0), RATE)
    assert tracker.baseline is None


def test_raised_pitch_and_a_tense_voice_score_high_tone() -> None:
    tracker = AgitationTracker()
    for _ in range(2):
        tracker.feed(voice(120.0, vibrato_st=4.0, brightness=0.8), RATE)
    same = tracker.feed(voice(120.0, vibrato_st=4.0, brightness=0.8), RATE)
    tense = tracker.feed(voice(200.0, vibrato_st=2.0, brightness=2.0), RATE)
    assert same.tone < 0.2
    single = EscalationConfig().tone.single
    assert single is not None and tense.tone > single  # one such utterance escalates
    assert tracker.trend().peak == pytest.approx(tense.agitation)


def test_louder_alone_is_not_agitated() -> None:
    tracker = AgitationTracker()
    for _ in range(2):
        tracker.feed(voice(150.0, level=0.05, vibrato_st=3.0), RATE)
    louder = tracker.feed(voice(150.0, level=0.2, vibrato_st=3.0), RATE)  # +12 dB
    assert louder.change is not None and louder.change.loudness_db > 11
    assert louder.tone < 0.2


def test_faster_speech_scores_pace() -> None:
    tracker = AgitationTracker()
    for _ in range(2):
        tracker.feed(voice(150.0, seconds=2.0, syllables_per_s=3.0), RATE)
    same = tracker.feed(voice(150.0, seconds=2.0, syllables_per_s=3.0), RATE)
    faster = tracker.feed(voice(150.0, seconds=2.0, syllables_per_s=6.0), RATE)
    assert same.pace < 0.1
    assert faster.pace > 0.9


def test_trend_rises_with_agitation() -> None:
    tracker = AgitationTracker(AgitationConfig(baseline_utterances=1))
    tracker.feed(voice(120.0, vibrato_st=3.0), RATE)
    tones = [tracker.feed(voice(f0, vibrato_st=3.0), RATE).tone for f0 in (125.0, 150.0, 190.0)]
    assert tones == sorted(tones)
    trend = tracker.trend()
    assert trend.utterances == 3 and trend.slope > 0.03
    assert trend.mean == pytest.approx(sum(tones) / 3)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        AgitationConfig(baseline_utterances=0)


# -- real speech (EmoDB) ----------------------------------------------------


def _clips(emodb: Path, speaker: str, emotion: str) -> list[np.ndarray]:
    found = []
    with (emodb / "manifest.tsv").open(encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            if row["speaker"] == speaker and row["emotion"] == emotion:
                with wave.open(str(emodb / row["file"])) as wav:
                    found.append(np.frombuffer(wav.readframes(wav.getnframes()), "<i2"))
    return found


def _call(clips: list[np.ndarray], rate: int = RATE) -> list[str | None]:
    """Feed a call clip by clip; the policy's reason after each (None: no)."""
    tracker, watch = AgitationTracker(), EscalationWatch()
    reasons: list[str | None] = []
    for clip in clips:
        if rate != RATE:
            clip = soxr.resample(clip, RATE, rate)
        reasons.append(watch.hear([tracker.feed(clip, rate, gap_s=1.2)]).reason)
    return reasons


@pytest.mark.parametrize("speaker", ["emo08", "emo13"])
def test_a_calm_caller_is_not_escalated(emodb: Path, speaker: str) -> None:
    neutral = _clips(emodb, speaker, "neutral")
    assert len(neutral) >= 8
    for start in (0, 2):
        assert _call(neutral[start:start + 6]) == [None] * 6


@pytest.mark.parametrize("speaker", ["emo08", "emo13"])
def test_an_angry_caller_is_escalated_on_tone(emodb: Path, speaker: str) -> None:
    neutral, angry = _clips(emodb, speaker, "neutral"), _clips(emodb, speaker, "angry")
    reasons = _call(neutral[:2] + angry[:4])
    assert reasons[:2] == [None, None]
    assert "tone" in reasons


def test_an_angry_caller_is_escalated_at_16_khz_too(emodb: Path) -> None:
    neutral, angry = _clips(emodb, "emo08", "neutral"), _clips(emodb, "emo08", "angry")
    assert "tone" in _call(neutral[:2] + angry[:4], rate=16000)
