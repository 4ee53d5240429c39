"""Audio helpers for tests: tones in, dominant frequencies out."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def tone(freq: float, seconds: float, rate: int = 8000, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples shaped (n, channels) and the rate."""
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.reshape(-1, wav.getnchannels()), wav.getframerate()


def level_at(samples: np.ndarray, rate: int, freq: float, width: float = 15.0) -> float:
    """Share of the signal's energy within `width` Hz of `freq` (0..1)."""
    x = samples.astype(float)
    if len(x) == 0 or not np.any(x):
        return 0.0
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    band = (freqs > freq - width) & (freqs < freq + width)
    return float(spectrum[band].sum() / spectrum.sum())


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(float) ** 2))) if len(samples) else 0.0


def first_heard(samples: np.ndarray, rate: int, freq: float, *, after: float = 0.0,
                share: float = 0.5, window: float = 0.1) -> float | None:
    """The first second (from `after`) at which `freq` carries `share` of a window's energy."""
    step = int(rate * window)
    for start in range(int(rate * after), len(samples) - step, step):
        part = samples[start:start + step]
        if rms(part) > 100 and level_at(part, rate, freq) >= share:
            return start / rate
    return None
