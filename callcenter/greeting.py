"""The built-in greeting: a short three-note chime.

Until dialog flows exist, a caller hears this (or the WAV configured as
``engine.greeting``). Its notes are distinct pure tones, which also lets the
tests check what the caller heard.
"""

from __future__ import annotations

import numpy as np

CHIME_NOTES_HZ = (523.25, 659.25, 783.99)  # C5 E5 G5
NOTE_S = 0.35


def chime(rate: int, notes: tuple[float, ...] = CHIME_NOTES_HZ, note_s: float = NOTE_S,
          level: float = 0.3) -> bytes:
    """PCM16 mono at `rate`: each note with a soft attack and decay."""
    n = int(rate * note_s)
    t = np.arange(n) / rate
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t)
    tones = [np.sin(2 * np.pi * f * t) * envelope for f in notes]
    signal = np.concatenate([*tones, np.zeros(int(rate * 0.2))])
    return (signal * level * 32767).astype("<i2").tobytes()
