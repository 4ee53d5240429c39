"""Telephone-band audio for the benchmarks' synthetic voices (not a benchmark itself)."""

from __future__ import annotations

import numpy as np


def telephone(pcm: bytes) -> bytes:
    """8-bit mu-law companding of 8 kHz PCM16, as a G.711 call would apply."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round((y + 1) / 2 * 255) / 255 * 2 - 1
    back = np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu
    return (np.clip(back, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()
