"""Finals of several calls at once: decoded as batches against one by one.

Bursts of finals (recorded human sentences and words of
``shared/testdata/real-speech-en``, cut as a call cuts them) reach the
node's recognizer at the same moment, as when several callers stop talking
together, with the shipped ``asr`` settings (workers: one per core). Each
burst size runs with ``final_batch`` as shipped and with 1 (every final
alone, as before batching); per burst: time until every final is back, and
each final's wait from submission to its transcript (p50, p95), and whether
the texts are the same both ways.

    .venv/bin/python bench/asr_batch.py [--bursts 2,4,8] [--rounds 6]

Target: with a backlog, batching brings the last final back sooner (burst
of 8 at least 10 % sooner than one by one), with the same words; at most
as many finals as workers, no slower (within 10 %). The median final of a
burst may come back later: a batch answers all its finals at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any

from _common import json_stdout, run_measurement, setup_logging, write_result
from _real_speech import RATE, Clip, load_clips

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from callcenter.core.settings import load_settings

log = logging.getLogger("bench.asr_batch")
PREROLL_FRAMES, TAIL_FRAMES = 15, 8  # 300 ms before the speech, 160 ms after (20 ms frames)


def as_a_call_cuts(clip: Clip) -> bytes:
    """The clip from 300 ms before its speech to 160 ms after, as the endpointer cuts it."""
    frame = RATE // 50 * 2
    audio = clip.pcm
    loud = [i for i in range(len(audio) // frame)
            if _dbfs(audio[i * frame:(i + 1) * frame]) > -40.0]
    start = max(0, loud[0] - PREROLL_FRAMES) if loud else 0
    end = (loud[-1] + 1 + TAIL_FRAMES) if loud else len(audio) // frame
    return audio[start * frame:end * frame]


def _dbfs(pcm: bytes) -> float:
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(10 * np.log10((samples ** 2).mean() / 32768.0 ** 2 + 1e-12))


async def burst(recognizer: WhisperRecognizer, pcms: list[bytes]) -> tuple[float, list[float],
                                                                            list[str]]:
    """Submit `pcms` as finals at once: time until all are back, each one's wait, texts."""
    started = time.perf_counter()
    waits: list[float] = []

    async def one(pcm: bytes) -> str:
        result = await recognizer.transcribe(pcm, RATE, final=True)
        waits.append(time.perf_counter() - started)
        return "" if result is None else result.text

    texts = await asyncio.gather(*(one(pcm) for pcm in pcms))
    return time.perf_counter() - started, waits, list(texts)


def measure(result: dict[str, Any], sizes: list[int], rounds: int) -> None:
    clips = load_clips()
    sentences = [as_a_call_cuts(c) for c in clips if c.kind == "sentence"]
    words = [as_a_call_cuts(c) for c in clips if c.kind != "sentence"]
    # A caller's turn: mostly short answers, some sentences (3 words : 1 sentence).
    mix = [p for pair in zip(words[::3], sentences, strict=False) for p in pair]
    shipped = load_settings().section("asr", AsrSettings)
    result["workers"] = shipped.workers
    result["final_batch"] = shipped.final_batch
    for batch in (shipped.final_batch, 1):
        settings = shipped.model_copy(update={"final_batch": batch})
        recognizer = WhisperRecognizer(settings)
        try:
            asyncio.run(burst(recognizer, mix[:2]))  # warm-up
            for size in sizes:
                times, waits, texts = [], [], []
                for r in range(rounds):
                    pcms = [mix[(r * size + i) % len(mix)] for i in range(size)]
                    took, each, said = asyncio.run(burst(recognizer, pcms))
                    times.append(took)
                    waits += each
                    texts += said
                key = f"burst_{size}"
                row = result.setdefault(key, {})
                label = "batched" if batch > 1 else "alone"
                row[f"{label}_ms"] = round(statistics.median(times) * 1000)
                row[f"{label}_wait_p50_ms"] = round(statistics.median(waits) * 1000)
                row[f"{label}_wait_p95_ms"] = round(
                    statistics.quantiles(waits, n=20)[18] * 1000)
                row.setdefault("texts", {})[label] = texts
            if batch > 1:
                result["batches"] = recognizer.waiting_finals.batches
                result["finals_in_batches"] = recognizer.waiting_finals.batched
        finally:
            recognizer.close()
    verdicts = []
    for size in sizes:
        row = result[f"burst_{size}"]
        texts = row.pop("texts")
        row["same_words"] = sum(a == b for a, b in zip(texts["batched"], texts["alone"],
                                                       strict=True)) / len(texts["alone"])
        row["gain"] = round(1 - row["batched_ms"] / row["alone_ms"], 3)
        if size <= shipped.workers:
            verdicts.append(row["gain"] >= -0.10)
        if size >= 8:
            verdicts.append(row["gain"] >= 0.10)
    result["pass"] = all(verdicts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bursts", default="2,4,8", help="finals per burst, comma separated")
    ap.add_argument("--rounds", type=int, default=6, help="bursts per size")
    args = ap.parse_args()
    setup_logging()
    out = json_stdout()
    result: dict[str, Any] = {"bench": "asr_batch", "target": {
        "gain_at_8": 0.10, "slower_at_most_workers": 0.10}}
    error = run_measurement(lambda: measure(result, [int(s) for s in args.bursts.split(",")],
                                            args.rounds), log)
    if error:
        result.update(error=error, **{"pass": False})
    write_result(out, result, ["bench", "pass", "workers", "final_batch"])
    return 0 if result.get("pass") else 1


if __name__ == "__main__":
    raise SystemExit(main())
