"""Finals of several calls at once: decoded as batches against one by one.

Bursts of finals (recorded human words and sentences of
``shared/testdata/real-speech-en``, cut as a call cuts them) reach the
node's recognizer at the same moment, as when several callers stop talking
together, with the shipped ``asr`` settings (workers: one per core). Two
kinds of burst: ``answers`` (words and digits: finals short enough to
batch) and ``mixed`` (three answers to one sentence; sentences decode
alone, with timestamps). Each burst size runs with ``final_batch`` as
shipped and with 1 (every final alone, as before batching); per burst:
time until every final is back, each final's wait from submission to its
transcript (p50, p95), and whether the texts are the same both ways.

    .venv/bin/python bench/asr_batch.py [--bursts 2,4,8] [--rounds 6]

Both ways run on the same finals, in turn (the order alternates, so
neither gains from the other's warm caches). Target: with a backlog,
batching brings the last final back sooner (a burst of 8 answers at least
10 % sooner than one by one), with the same words for at least 95 % of the
finals (a batch's arithmetic may tip a close beam); at most as many
finals as workers, no slower (within 10 %). The median final of a burst
may come back later: a batch answers all its finals at once.
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


def _mixes(clips: list[Clip]) -> dict[str, list[bytes]]:
    """Short answers alone (what may batch: finals up to ``timestamps_after_s``),
    and answers with sentences, three to one, as callers' turns come."""
    sentences = [as_a_call_cuts(c) for c in clips if c.kind == "sentence"]
    answers = [as_a_call_cuts(c) for c in clips if c.kind != "sentence"]
    mixed = [p for i, s in enumerate(sentences) for p in (*answers[3 * i:3 * i + 3], s)]
    return {"answers": answers, "mixed": mixed}


def measure(result: dict[str, Any], sizes: list[int], rounds: int) -> None:
    mixes = _mixes(load_clips())
    shipped = load_settings().section("asr", AsrSettings)
    result["workers"] = shipped.workers
    result["final_batch"] = shipped.final_batch
    recognizers = {label: WhisperRecognizer(shipped.model_copy(update={"final_batch": batch}))
                   for label, batch in (("batched", shipped.final_batch), ("alone", 1))}
    try:
        for recognizer in recognizers.values():  # warm-up: every worker decodes once
            asyncio.run(burst(recognizer, mixes["mixed"][:2 * shipped.workers]))
        for kind, pcms in mixes.items():
            for size in sizes:
                row = result.setdefault(kind, {}).setdefault(f"burst_{size}", {})
                seen: dict[str, tuple[list[float], list[float], list[str]]] = {
                    label: ([], [], []) for label in recognizers}
                for r in range(rounds):
                    chosen = [pcms[(r * size + i) % len(pcms)] for i in range(size)]
                    # Both ways on the same finals, in turn, first one then the other.
                    for label in sorted(recognizers, reverse=r % 2 == 1):
                        took, each, said = asyncio.run(burst(recognizers[label], chosen))
                        seen[label][0].append(took)
                        seen[label][1].extend(each)
                        seen[label][2].extend(said)
                for label, (times, waits, texts) in seen.items():
                    row[f"{label}_ms"] = round(statistics.median(times) * 1000)
                    row[f"{label}_wait_p50_ms"] = round(statistics.median(waits) * 1000)
                    row[f"{label}_wait_p95_ms"] = round(
                        statistics.quantiles(waits, n=20)[18] * 1000)
                    row.setdefault("texts", {})[label] = texts
        result["batches"] = recognizers["batched"].waiting_finals.batches
        result["finals_in_batches"] = recognizers["batched"].waiting_finals.batched
    finally:
        for recognizer in recognizers.values():
            recognizer.close()
    verdicts = []
    for kind in mixes:
        for size in sizes:
            row = result[kind][f"burst_{size}"]
            texts = row.pop("texts")
            row["same_words"] = sum(a == b for a, b in zip(
                texts["batched"], texts["alone"], strict=True)) / len(texts["alone"])
            row["gain"] = round(1 - row["batched_ms"] / row["alone_ms"], 3)
            verdicts.append(row["same_words"] >= 0.95)
            if size <= shipped.workers:
                verdicts.append(row["gain"] >= -0.10)
            if size >= 8 and kind == "answers":
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
        "answers_gain_at_8": 0.10, "slower_at_most_workers": 0.10}}
    error = run_measurement(lambda: measure(result, [int(s) for s in args.bursts.split(",")],
                                            args.rounds), log)
    if error:
        result.update(error=error, **{"pass": False})
    write_result(out, result, ["bench", "pass", "workers", "final_batch"])
    return 0 if result.get("pass") else 1


if __name__ == "__main__":
    raise SystemExit(main())
