"""The test caller's voice and ears: running a script, transcribing replies.

The caller speaks with the bundled Piper voice and judges the engine's turns
by the energy of what it hears (a prompt is over when the line has been
quiet for ``QUIET_S``). Afterwards the heard audio is cut at silences and
transcribed with the bundled Whisper model, so ``callcenter dial`` can print
the conversation both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from callcenter.caller_script import Step
from callcenter.core.settings import Settings
from sip.call import SipCall, load_wav_pcm
from tts.piper_voice import PiperSynthesizer
from tts.settings import TtsSettings

log = logging.getLogger(__name__)

QUIET_S = 1.2  # silence that ends an engine prompt
LOUD_RMS = 300.0  # PCM16 RMS above which a 20 ms frame counts as speech
PROMPT_TIMEOUT_S = 45.0


def _frame_rms(pcm: bytes, rate: int) -> np.ndarray:
    """RMS of each 20 ms frame of PCM16 at `rate`."""
    size = rate // 50
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    return np.sqrt((frames**2).mean(axis=1)) if len(frames) else np.zeros(0)


async def _wait_prompt(call: SipCall, heard: bytearray, rate: int, since: int) -> None:
    """Until the engine has spoken after byte `since` and then gone quiet."""
    frame_bytes = rate // 50 * 2
    deadline = time.monotonic() + PROMPT_TIMEOUT_S
    while time.monotonic() < deadline and not call.ended.done():
        loud = _frame_rms(bytes(heard[since:]), rate) > LOUD_RMS
        if loud.any():
            quiet_frames = len(loud) - 1 - int(np.nonzero(loud)[0].max())
            if quiet_frames * frame_bytes / 2 / rate >= QUIET_S:
                return
        await asyncio.sleep(0.1)
    if not call.ended.done():
        log.warning("the engine did not finish a prompt within %.0f s", PROMPT_TIMEOUT_S)


async def _render_sayings(steps: list[Step], rate: int, settings: Settings
                          ) -> dict[str, bytes]:
    """Every `say` step's text as PCM, synthesized up front (while the engine
    greets): the caller then answers at once, as a person would."""
    texts = list(dict.fromkeys(str(step.value) for step in steps if step.kind == "say"))
    if not texts:
        return {}
    # Without Piper's random variation a script sounds the same on every run:
    # a calm line must not come out, one run in forty, with the pitch swing
    # that the engine's tone analysis takes for an upset caller.
    tts = settings.section("tts", TtsSettings).model_copy(update={"variation": False})
    voice = await asyncio.to_thread(PiperSynthesizer, tts)
    try:
        return {text: await voice.synthesize(text, rate) for text in texts}
    finally:
        voice.close()


async def run_script(call: SipCall, steps: list[Step], heard: bytearray,
                     settings: Settings) -> list[dict[str, Any]]:
    """Carry out `steps` on an answered call; returns what the caller said."""
    assert call.media is not None
    rate = call.media.clock_rate
    loop = asyncio.get_running_loop()
    start = loop.time()
    sayings = loop.create_task(_render_sayings(steps, rate, settings))
    said: list[dict[str, Any]] = []
    mark = 0
    try:
        for step in steps:
            if call.ended.done():
                break
            at = round(loop.time() - start, 2)
            if step.kind == "wait_prompt":
                await _wait_prompt(call, heard, rate, mark)
            elif step.kind == "wait":
                await asyncio.wait([call.ended], timeout=float(step.value))
            elif step.kind == "hold":
                await call.hold()
                said.append({"speaker": "caller", "text": f"[hold {step.value} s]", "at": at})
                await asyncio.wait([call.ended], timeout=float(step.value))
                if not call.ended.done():
                    await call.unhold()
                    said.append({"speaker": "caller", "text": "[unhold]",
                                 "at": round(loop.time() - start, 2)})
            elif step.kind == "dtmf":
                for digit in step.value:
                    await call.send_dtmf(digit)
                    await asyncio.sleep(0.25)
                said.append({"speaker": "caller", "text": f"[keys {step.value}]", "at": at})
            elif step.kind in ("say", "wav"):
                if step.kind == "say":
                    pcm = (await sayings)[str(step.value)]
                else:
                    pcm = await asyncio.to_thread(load_wav_pcm, step.value, rate)
                said.append({"speaker": "caller", "text": step.value,
                             "at": round(loop.time() - start, 2)})
                await call.play(pcm)
            elif step.kind == "hangup":
                break
            mark = len(heard)
    finally:
        if not sayings.done():
            sayings.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sayings
    return said


def split_on_silence(pcm: bytes, rate: int, min_gap_s: float = 0.7
                     ) -> list[tuple[float, bytes]]:
    """Stretches of speech in `pcm` (start second, audio), cut at silences."""
    loud = _frame_rms(pcm, rate) > LOUD_RMS
    frame_bytes = rate // 50 * 2
    gap = int(min_gap_s * 50)
    pieces: list[tuple[float, bytes]] = []
    start: int | None = None
    quiet = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            start = index if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= gap:
                end = index - quiet + 1
                pieces.append((start / 50, pcm[start * frame_bytes: end * frame_bytes]))
                start, quiet = None, 0
    if start is not None:
        pieces.append((start / 50, pcm[start * frame_bytes:]))
    return [(at, audio) for at, audio in pieces if len(audio) >= frame_bytes * 10]


async def transcribe_heard(pcm: bytes, rate: int, settings: Settings
                           ) -> list[dict[str, Any]]:
    """The engine's turns in what the caller heard, transcribed."""
    pieces = split_on_silence(pcm, rate)
    if not pieces:
        return []
    recognizer = await asyncio.to_thread(WhisperRecognizer, settings.section("asr", AsrSettings))
    try:
        turns = []
        for at, audio in pieces:
            result = await recognizer.transcribe(audio, rate, final=True)
            if result is not None and result.text.strip():
                turns.append({"speaker": "engine", "text": result.text.strip(), "at": at})
        return turns
    finally:
        recognizer.close(wait=False)
