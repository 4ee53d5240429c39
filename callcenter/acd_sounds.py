"""What the human queue sounds like without words: hold tone, connect tone, beeps.

    write_hold_tone(path, 8000)          # the default hold audio, looped by the bridge
    connect_tone(8000, seconds=0.3)      # caller and agent, just before they are bridged
    key_beep(8000), error_beep(8000)     # an agent's key taken / refused (no TTS)
    record_beep(8000)                    # a caller's voicemail starts after it
    ringback(8000)                       # while a transfer (REFER) is pending
    await spoken(voice, "Ready.", 8000)  # TTS when the node has a voice, else None

Each sound is a pure tone at its own frequency, so tests can tell them
apart in a recording; the levels are soft (hold audio plays for minutes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callcenter.core.speech import Synthesizer
from sip.call import save_wav_pcm

HOLD_TONE_HZ = 440.0
HOLD_ON_S, HOLD_OFF_S = 0.8, 1.2  # one period of the hold tone: a soft note, then quiet
CONNECT_TONE_HZ = 950.0
KEY_BEEP_HZ = 1200.0
ERROR_BEEP_HZ = 300.0
LOGIN_TONE_HZ = 660.0
RECORD_BEEP_HZ = 1400.0
RINGBACK_HZ = (440.0, 480.0)  # the North American ringback: both notes at once
RINGBACK_ON_S, RINGBACK_OFF_S = 1.0, 2.0  # one ring; shorter than the PSTN's 2 s / 4 s


def _note(rate: int, freq: float, seconds: float, level: float) -> np.ndarray:
    """A sine note with 20 ms fades, as float samples in [-1, 1]."""
    n = max(0, int(rate * seconds))
    t = np.arange(n) / rate
    fade = max(1, int(rate * 0.02))
    envelope = np.minimum(1.0, np.minimum(np.arange(n) + 1, n - np.arange(n)) / fade)
    return np.sin(2 * np.pi * freq * t) * envelope * level


def _pcm(samples: np.ndarray) -> bytes:
    return bytes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def hold_tone(rate: int) -> bytes:
    """One period of the default hold audio: a soft note, then quiet (PCM16)."""
    note = _note(rate, HOLD_TONE_HZ, HOLD_ON_S, 0.12)
    return _pcm(np.concatenate([note, np.zeros(int(rate * HOLD_OFF_S))]))


def write_hold_tone(path: Path, rate: int) -> Path:
    """Write :func:`hold_tone` as a mono WAV at `rate` (blocking); returns `path`."""
    return save_wav_pcm(path, hold_tone(rate), rate)


def connect_tone(rate: int, seconds: float) -> bytes:
    """The tone both sides hear just before they are bridged (empty for 0 s)."""
    return _pcm(_note(rate, CONNECT_TONE_HZ, seconds, 0.25))


def ringback(rate: int) -> bytes:
    """One ring and the quiet after it: what the caller hears while the engine
    waits for a transfer's outcome (a REFER's final NOTIFY), never silence."""
    ring = sum(_note(rate, freq, RINGBACK_ON_S, 0.1) for freq in RINGBACK_HZ)
    return _pcm(np.concatenate([ring, np.zeros(int(rate * RINGBACK_OFF_S))]))


def key_beep(rate: int) -> bytes:
    """A short high beep: the agent's key was taken."""
    return _pcm(_note(rate, KEY_BEEP_HZ, 0.12, 0.2))


def error_beep(rate: int) -> bytes:
    """Two low beeps: the key was refused (or a login failed)."""
    beep = _note(rate, ERROR_BEEP_HZ, 0.15, 0.25)
    return _pcm(np.concatenate([beep, np.zeros(int(rate * 0.1)), beep]))


def record_beep(rate: int) -> bytes:
    """The beep before a voicemail is recorded: speak now."""
    return _pcm(_note(rate, RECORD_BEEP_HZ, 0.4, 0.25))


def login_tone(rate: int) -> bytes:
    """Two rising notes: key in the agent id and PIN (when there is no voice)."""
    return _pcm(np.concatenate([_note(rate, LOGIN_TONE_HZ, 0.15, 0.2),
                                np.zeros(int(rate * 0.05)),
                                _note(rate, LOGIN_TONE_HZ * 1.25, 0.2, 0.2)]))


async def spoken(voice: Synthesizer | None, text: str, rate: int) -> bytes | None:
    """`text` as PCM16 at `rate` with the node's voice; None without a voice."""
    if voice is None:
        return None
    chunks = voice.stream(text, rate)
    try:
        return b"".join([chunk async for chunk in chunks])
    finally:
        await chunks.aclose()
