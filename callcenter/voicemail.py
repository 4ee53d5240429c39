"""A caller's message, recorded to a WAV file: the queue's voicemail at its limit.

    message = await record_message(call, folder / voicemail_name(call.id, now),
                                   max_s=120, silence_s=5)
    message.path, message.duration_s, message.ended_by      # "key", "silence", ...

Recording starts when called (play the prompt and the beep first) and ends
at the first of: the caller's end key (``#``), ``silence_s`` seconds of
quiet, ``max_s`` seconds, or the caller hanging up. Trailing quiet is cut.
The audio is held in memory (at most ``max_s``: 600 s of 8 kHz PCM is
9.6 MB) and written as a mono PCM16 WAV at the call's rate on a worker
thread, to a ``.part`` file renamed when complete.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from sip.call import SipCall, save_wav_pcm

END_KEY = "#"
QUIET_RMS = 300.0  # PCM16 RMS under which a 20 ms frame counts as quiet


@dataclass(frozen=True)
class Message:
    """A recorded message: where, how long, and what ended it."""

    path: Path
    duration_s: float
    ended_by: str  # key | silence | max | hangup


def voicemail_name(call_id: str, at: datetime) -> str:
    """The file name of a message: time (UTC) first, so a folder lists in order."""
    return f"{at:%Y%m%dT%H%M%SZ}-{call_id}.wav"


def _quiet(frame: bytes, level: float) -> bool:
    samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.float32)
    return not len(samples) or float(np.sqrt(np.mean(samples**2))) < level


async def record_message(call: SipCall, path: Path, *, max_s: float, silence_s: float,
                         end_key: str = END_KEY, quiet_rms: float = QUIET_RMS) -> Message:
    """Record the caller to `path` until the end key, silence, `max_s` or hang-up."""
    assert call.media is not None
    rate = call.media.clock_rate
    audio = bytearray()
    limit = int(max_s * rate) * 2
    quiet_bytes = 0

    async def take_frames() -> str:
        nonlocal quiet_bytes
        async for frame in call.frames():
            audio.extend(frame)
            quiet_bytes = quiet_bytes + len(frame) if _quiet(frame, quiet_rms) else 0
            if len(audio) >= limit:
                return "max"
            if quiet_bytes >= silence_s * rate * 2:
                return "silence"
        return "hangup"

    async def wait_key() -> str:
        while await call.dtmf.get() != end_key:
            pass
        return "key"

    tasks = [asyncio.ensure_future(take_frames()), asyncio.ensure_future(wait_key())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        ended_by = next(iter(done)).result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if ended_by == "hangup" or call.ended.done():
        ended_by = "hangup"
    kept = bytes(audio[: max(0, len(audio) - quiet_bytes)])
    await asyncio.to_thread(save_wav_pcm, path, kept, rate)
    return Message(path, len(kept) / 2 / rate, ended_by)
