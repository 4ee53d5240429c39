"""Piper speed: real-time factor at 8 and 16 kHz, time to first audio.

Over 10 three-sentence call-center prompts, with the default TTS settings
(bundled en_US-joe-medium, 2 workers, 1 onnxruntime thread each, prefetch 1):

- ``rtf_8k`` / ``rtf_16k``: wall time of synthesizing each whole prompt
  (cache off) divided by the audio's duration, over all prompts;
- ``ttfa_cold_ms``: time to the first chunk of a prompt, nothing cached;
- ``ttfa_memory_ms``: the same prompt again, from the in-memory cache;
- ``ttfa_disk_ms``: from the disk cache, in a new synthesizer (a restart).

Prints one JSON line; exits 0 when every target is met.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import setup_logging

from tts.piper_voice import PiperSynthesizer
from tts.settings import TtsSettings

PROMPTS = [
    "Thank you for calling. This call may be recorded. How can I help you today?",
    "Hello. Your appointment is on 2026-12-03 at 14:30. Press one to confirm.",
    "Your balance is $12.50. Your next payment is due on December 15th. Would you like to pay now?",
    "I'm sorry, I didn't catch that. Please say yes or no. You can also press one or two.",
    "All of our agents are busy. Your call is important to us. Please stay on the line.",
    "Your order 48213 has shipped. It should arrive on Friday. Is there anything else?",
    "To reach billing, say billing. For technical support, say support. For anything else, "
    "say agent.",
    "Dr. Smith can see you at 9:15 am. The office is at 12 Main St. Should I book it?",
    "We couldn't verify your account. Please enter the last four digits of your card. Then "
    "press pound.",
    "Thanks for your patience. I'm transferring you now. Have a great day.",
]
TARGETS = {"rtf": 0.3, "ttfa_cold_ms": 500.0, "ttfa_cached_ms": 10.0}


async def _ttfa_and_total(synth: PiperSynthesizer, text: str, rate: int) -> tuple[float, float,
                                                                                   float]:
    """Seconds to the first chunk, seconds in all, seconds of audio."""
    start = time.perf_counter()
    first = 0.0
    samples = 0
    async for chunk in synth.stream(text, rate):
        first = first or time.perf_counter() - start
        samples += len(chunk) // 2
    return first, time.perf_counter() - start, samples / rate


async def _run() -> dict[str, Any]:
    cold = PiperSynthesizer(TtsSettings(cache_memory_mb=0, cache_disk_mb=0))
    result: dict[str, Any] = {"voice": cold.voice_id.split(":")[0], "prompts": len(PROMPTS)}
    ttfa_cold: list[float] = []
    for rate in (8000, 16000):
        wall = audio = 0.0
        for text in PROMPTS:
            first, total, seconds = await _ttfa_and_total(cold, text, rate)
            wall += total
            audio += seconds
            if rate == 8000:
                ttfa_cold.append(first)
        result[f"rtf_{rate // 1000}k"] = round(wall / audio, 3)
        result[f"audio_s_{rate // 1000}k"] = round(audio, 1)
    cold.close()
    with tempfile.TemporaryDirectory() as tmp:
        settings = TtsSettings(cache_dir=Path(tmp))
        warm = PiperSynthesizer(settings)
        for text in PROMPTS:
            await warm.synthesize(text, 8000)
        memory = [(await _ttfa_and_total(warm, t, 8000))[0] for t in PROMPTS]
        warm.close()
        restarted = PiperSynthesizer(settings)
        disk = [(await _ttfa_and_total(restarted, t, 8000))[0] for t in PROMPTS]
        restarted.close()

    def ms(values: list[float], fn: Any = statistics.median) -> float:
        return round(1000 * float(fn(values)), 2)

    result.update({
        "ttfa_cold_ms_p50": ms(ttfa_cold), "ttfa_cold_ms_max": ms(ttfa_cold, max),
        "ttfa_memory_ms_p50": ms(memory), "ttfa_disk_ms_p50": ms(disk),
        "ttfa_disk_ms_max": ms(disk, max),
        "target": TARGETS,
    })
    result["pass"] = bool(
        max(result["rtf_8k"], result["rtf_16k"]) <= TARGETS["rtf"]
        and result["ttfa_cold_ms_p50"] <= TARGETS["ttfa_cold_ms"]
        and max(result["ttfa_memory_ms_p50"], result["ttfa_disk_ms_p50"])
        <= TARGETS["ttfa_cached_ms"])
    return result


def main() -> int:
    setup_logging()
    result = asyncio.run(_run())
    print(json.dumps(result), flush=True)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
