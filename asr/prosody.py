"""Tone and pace of one utterance, measured on the caller's raw audio.

:func:`measure_utterance` turns one utterance (mono PCM16 at 8 or 16 kHz,
bytes or a numpy array) into :class:`UtteranceProsody`: loudness, pitch
level and range, spectral tilt, voice quality, the voice's spectral shape
(a short mel-cepstrum) and speech rate. Nothing here
knows about a call or a baseline; :mod:`asr.agitation` compares these
numbers with the caller's own first utterances.

Everything is measured in the telephone band (300-3400 Hz), so a wideband
call gives the same numbers as a narrowband one: 16 kHz audio is resampled
to 8 kHz first. Pitch comes from a numpy YIN (de Cheveigné and Kawahara,
2002) vectorised over 10 ms frames; syllable nuclei are peaks of the band
energy at voiced frames (after de Jong and Wempe, 2009). The whole
analysis costs about 3 ms per second of audio on the project machine
(``bench/escalation.py`` measures it), well under the 20 ms budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

ANALYSIS_RATE = 8000
HOP = 80  # 10 ms
YIN_WINDOW = 200  # 25 ms integration window
F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
TAU_MAX = int(ANALYSIS_RATE / F0_MIN_HZ) + 1
TAU_MIN = int(ANALYSIS_RATE / F0_MAX_HZ)
YIN_FRAME = YIN_WINDOW + TAU_MAX + 1
YIN_FFT = 512  # >= YIN_FRAME: the correlation does not wrap
YIN_THRESHOLD = 0.2
VOICED_APERIODICITY = 0.35
PITCH_SPAN_ST = 9.0
SPECTRUM_FRAME = 256  # 32 ms, 31.25 Hz bins
SPEECH_RANGE_DB = 30.0  # frames this far below the loudest count as pauses
SILENCE_DBFS = -60.0
NUCLEUS_PROMINENCE_DB = 3.0
NUCLEUS_SMOOTHING = 7  # frames: 70 ms, shorter than a syllable
CEPSTRUM_BANDS = 20  # mel bands over 300-3400 Hz
CEPSTRUM_COEFFICIENTS = 5  # cepstral coefficients 1..5: the broad spectral shape

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UtteranceProsody:
    """What one utterance sounded like; every level is in the 300-3400 Hz band.

    ``None`` stands for "not measurable": no voiced frame (pitch, tilt,
    quality) or too little speech (rate).
    """

    duration_s: float
    speech_s: float
    """Time in frames within 30 dB of the loudest one: speech without pauses."""
    voiced_s: float
    """Time in frames with a clear pitch."""
    loudness_dbfs: float | None
    """Active speech level: mean power over the speech frames."""
    pitch_median_hz: float | None
    pitch_range_st: float | None
    """Spread of the pitch, 10th to 90th percentile, in semitones."""
    spectral_tilt_db: float | None
    """Power above 1 kHz over power below, voiced frames: tense voices raise it."""
    high_band_ratio_db: float | None
    """Power 2-3.4 kHz over 0.3-2 kHz, voiced frames."""
    aperiodicity: float | None
    """Median YIN aperiodicity of voiced frames (0 clean, 1 noise): voice quality."""
    cepstrum: tuple[float, ...] | None
    """Mel-cepstral coefficients 1..:data:`CEPSTRUM_COEFFICIENTS` of voiced frames
    (mean over the frames): the broad shape of the voice's spectrum, which
    tells a pressed, angry voice from a joyful one better than pitch does."""
    syllable_nuclei: int
    speech_rate: float | None
    """Syllable nuclei per second of speech, pauses left out (articulation rate)."""


def pcm16_to_float(audio: bytes | npt.NDArray[np.generic]) -> FloatArray:
    """Mono PCM16 (bytes, or int16/float numpy samples) as floats in [-1, 1)."""
    if isinstance(audio, bytes | bytearray | memoryview):
        return np.frombuffer(audio, dtype="<i2").astype(np.float64) / 32768.0
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError("expected mono audio (a 1-D array)")
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float64) / 32768.0
    return samples.astype(np.float64)


def to_analysis_rate(samples: FloatArray, rate: int) -> FloatArray:
    """`samples` at 8 kHz, the rate every measure here is made at."""
    if rate == ANALYSIS_RATE:
        return samples
    if rate != 2 * ANALYSIS_RATE:
        raise ValueError(f"unsupported rate {rate} Hz; supported: 8000, 16000")
    return np.asarray(soxr.resample(samples, rate, ANALYSIS_RATE), dtype=np.float64)


def _frames(samples: FloatArray, length: int) -> FloatArray:
    """Overlapping frames of `length`, one every HOP samples (zero-padded end)."""
    count = max(1, 1 + (len(samples) - 1) // HOP)
    padded = np.zeros((count - 1) * HOP + length)
    padded[: len(samples)] = samples
    view = np.lib.stride_tricks.sliding_window_view(padded, length)[::HOP]
    return np.asarray(view[:count], dtype=np.float64)


def yin_pitch(samples: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per 10 ms frame of 8 kHz `samples`: pitch in Hz and its aperiodicity.

    Aperiodicity is YIN's cumulative-mean-normalised difference at the
    chosen lag: near 0 for a clean periodic voice, near 1 for noise. A frame
    whose aperiodicity stays above :data:`YIN_THRESHOLD` gets its global
    minimum; callers decide voicing with the aperiodicity.
    """
    frames = _frames(samples, YIN_FRAME)
    size = YIN_FFT
    window = np.fft.rfft(frames[:, :YIN_WINDOW], size)
    whole = np.fft.rfft(frames, size)
    cross = np.fft.irfft(np.conj(window) * whole, size)[:, : TAU_MAX + 1]
    power = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(TAU_MAX + 1)
    shifted_energy = power[:, lags + YIN_WINDOW] - power[:, lags]
    diff = shifted_energy[:, :1] + shifted_energy - 2.0 * cross
    diff[:, 0] = 0.0
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(running, 1e-12)
    search = cmnd[:, TAU_MIN:TAU_MAX]
    is_dip = (search[:, 1:-1] < YIN_THRESHOLD) & (search[:, 1:-1] <= search[:, :-2]) & (
        search[:, 1:-1] <= search[:, 2:])
    has_dip = is_dip.any(axis=1)
    first_dip = np.argmax(is_dip, axis=1) + 1
    best = np.where(has_dip, first_dip, np.argmin(search, axis=1))
    best = np.clip(best, 1, search.shape[1] - 2)
    rows = np.arange(len(search))
    left, mid, right = search[rows, best - 1], search[rows, best], search[rows, best + 1]
    curve = left - 2.0 * mid + right
    shift = np.where(np.abs(curve) > 1e-12, 0.5 * (left - right) / np.where(
        curve == 0, 1.0, curve), 0.0)
    tau = TAU_MIN + best + np.clip(shift, -1.0, 1.0)
    silent = shifted_energy[:, 0] <= 1e-10
    return ANALYSIS_RATE / tau, np.where(silent, 1.0, mid)


def fold_octave_errors(f0: FloatArray) -> FloatArray:
    """`f0` with halvings, doublings and triplings undone, NaN where no
    multiple lands within :data:`PITCH_SPAN_ST` of the median.

    Band-limited telephone speech has no fundamental, so YIN now and then
    locks onto a multiple or a fraction of the true period; one utterance's
    pitch rarely strays more than an octave from its median.
    """
    if len(f0) == 0:
        return f0
    semitones = 12.0 * np.log2(f0)
    centre = float(np.median(semitones))
    candidates = semitones[:, None] + np.array([0.0, -12.0, 12.0, -19.02, 19.02])[None, :]
    distance = np.abs(candidates - centre)
    pick = np.argmin(distance, axis=1)
    rows = np.arange(len(f0))
    folded = candidates[rows, pick]
    folded[distance[rows, pick] > PITCH_SPAN_ST] = np.nan
    return np.asarray(2.0 ** (folded / 12.0), dtype=np.float64)


def _band_powers(samples: FloatArray) -> FloatArray:
    """Power spectrum of Hann-windowed 32 ms frames, one every 10 ms."""
    frames = _frames(samples, SPECTRUM_FRAME) * np.hanning(SPECTRUM_FRAME)
    spectrum = np.fft.rfft(frames, axis=1)
    return np.asarray(spectrum.real**2 + spectrum.imag**2, dtype=np.float64)


# Band power of a Hann-windowed frame (one-sided rfft) to the mean square of
# the frame's samples in that band (Parseval): dBFS of a full-scale square is 0.
_MEAN_SQUARE_PER_POWER = 2.0 / (SPECTRUM_FRAME * float(np.sum(np.hanning(SPECTRUM_FRAME) ** 2)))


def _band(spectrum: FloatArray, low_hz: float, high_hz: float) -> FloatArray:
    hz_per_bin = ANALYSIS_RATE / SPECTRUM_FRAME
    return np.asarray(spectrum[:, int(low_hz / hz_per_bin): int(high_hz / hz_per_bin) + 1]
                      .sum(axis=1), dtype=np.float64)


def _db(power: FloatArray | float) -> FloatArray:
    return np.asarray(10.0 * np.log10(np.maximum(power, 1e-12)), dtype=np.float64)


def _mel_filterbank() -> FloatArray:
    """Triangular filters, :data:`CEPSTRUM_BANDS` of them evenly spaced on the
    mel scale over 300-3400 Hz, on the bins of a :data:`SPECTRUM_FRAME` rfft."""
    def mel(hz: FloatArray) -> FloatArray:
        return np.asarray(2595.0 * np.log10(1.0 + hz / 700.0), dtype=np.float64)

    edges_mel = np.linspace(float(mel(np.array(300.0))), float(mel(np.array(3400.0))),
                            CEPSTRUM_BANDS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bins = np.linspace(0.0, ANALYSIS_RATE / 2, SPECTRUM_FRAME // 2 + 1)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - low) / (centre - low), (high - bins) / (high - centre)
    return np.asarray(np.clip(np.minimum(rising, falling), 0.0, None), dtype=np.float64)


_MEL = _mel_filterbank()
# DCT-II rows 1..CEPSTRUM_COEFFICIENTS over the mel bands (row 0, the level, is left out).
_DCT = np.cos(np.pi / CEPSTRUM_BANDS * (np.arange(CEPSTRUM_BANDS)[None, :] + 0.5)
              * np.arange(1, CEPSTRUM_COEFFICIENTS + 1)[:, None])


def mel_cepstrum(spectrum: FloatArray) -> tuple[float, ...]:
    """Mean mel-cepstral coefficients 1..:data:`CEPSTRUM_COEFFICIENTS` (natural
    log, unnormalised DCT-II) of the power-spectrum frames in `spectrum`."""
    log_mel = np.log(spectrum @ _MEL.T + 1e-12)
    return tuple(float(c) for c in (log_mel @ _DCT.T).mean(axis=0))


def count_syllable_nuclei(envelope_db: FloatArray, eligible: npt.NDArray[np.bool_]) -> int:
    """Peaks of a 10 ms energy envelope (dB) that stand out from the dips on
    both sides by :data:`NUCLEUS_PROMINENCE_DB` and fall on eligible frames."""
    smooth = np.convolve(envelope_db, np.ones(NUCLEUS_SMOOTHING) / NUCLEUS_SMOOTHING,
                         mode="same")
    count = 0
    last_dip = np.inf
    peak_value = -np.inf
    peak_at = -1
    for i, value in enumerate(smooth):
        if value > peak_value:
            peak_value, peak_at = float(value), i
        if peak_at >= 0 and peak_value - value >= NUCLEUS_PROMINENCE_DB:
            if peak_value - last_dip >= NUCLEUS_PROMINENCE_DB and eligible[peak_at]:
                count += 1
            last_dip, peak_value, peak_at = float(value), float(value), -1
        elif peak_at < 0:
            last_dip = min(last_dip, float(value))
            if value - last_dip >= NUCLEUS_PROMINENCE_DB:
                peak_value, peak_at = float(value), i
    if peak_at >= 0 and peak_value - last_dip >= NUCLEUS_PROMINENCE_DB and eligible[peak_at]:
        count += 1
    return count


def measure_utterance(audio: bytes | npt.NDArray[np.generic], rate: int) -> UtteranceProsody:
    """Prosody of one utterance of mono PCM16 at `rate` (8000 or 16000 Hz).

    Give it what the endpointer cut (speech with a little silence around
    it); leading and trailing silence do not change the numbers.
    """
    samples = to_analysis_rate(pcm16_to_float(audio), rate)
    duration = len(samples) / ANALYSIS_RATE
    spectrum = _band_powers(samples)
    level_db = _db(_band(spectrum, 300.0, 3400.0) * _MEAN_SQUARE_PER_POWER)
    floor = max(float(level_db.max()) - SPEECH_RANGE_DB, SILENCE_DBFS)
    speech = level_db > floor
    f0, aperiodicity = yin_pitch(samples)
    count = min(len(f0), len(speech))
    voiced = speech[:count] & (aperiodicity[:count] < VOICED_APERIODICITY)
    speech_s = float(speech.sum()) * HOP / ANALYSIS_RATE
    voiced_s = float(voiced.sum()) * HOP / ANALYSIS_RATE
    loudness = None
    if speech.any():
        loudness = float(_db(float(np.mean(10.0 ** (level_db[speech] / 10.0)))))
    pitch_median = pitch_range = tilt = high_ratio = quality = None
    cepstrum: tuple[float, ...] | None = None
    if voiced.sum() >= 3:
        semitones = 12.0 * np.log2(fold_octave_errors(f0[:count][voiced]))
        semitones = semitones[np.isfinite(semitones)]
        pitch_median = float(2.0 ** (np.median(semitones) / 12.0))
        p10, p90 = np.percentile(semitones, [10, 90])
        pitch_range = float(p90 - p10)
        voiced_spectrum = spectrum[:count][voiced]
        low = float(_band(voiced_spectrum, 300.0, 1000.0).sum())
        high = float(_band(voiced_spectrum, 1000.0, 3400.0).sum())
        tilt = float(_db(high) - _db(low))
        mid = float(_band(voiced_spectrum, 300.0, 2000.0).sum())
        top = float(_band(voiced_spectrum, 2000.0, 3400.0).sum())
        high_ratio = float(_db(top) - _db(mid))
        quality = float(np.median(aperiodicity[:count][voiced]))
        cepstrum = mel_cepstrum(voiced_spectrum)
    nuclei = count_syllable_nuclei(_db(_band(spectrum, 500.0, 2500.0))[:count],
                                   voiced | np.roll(voiced, 1) | np.roll(voiced, -1))
    rate_per_s = nuclei / speech_s if speech_s >= 0.3 else None
    return UtteranceProsody(
        duration_s=duration, speech_s=speech_s, voiced_s=voiced_s, loudness_dbfs=loudness,
        pitch_median_hz=pitch_median, pitch_range_st=pitch_range, spectral_tilt_db=tilt,
        high_band_ratio_db=high_ratio, aperiodicity=quality, cepstrum=cepstrum,
        syllable_nuclei=nuclei,
        speech_rate=rate_per_s)
