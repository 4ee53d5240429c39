"""Answering-machine detection: recorded greetings versus live "hello"s.

Prints ONE JSON line on stdout (progress goes to stderr); exits 0 when every
target holds, 1 otherwise or when the data is missing.

Data: ``shared/testdata/real-speech-en`` beside the checkout (``--data``),
real recorded speech, 8 kHz telephone band. Each simulated answer is fed
frame by frame (20 ms) to `outbound.answering_machine.AnsweringMachineDetector`
with the shipped settings (``outbound.answering_machine``), as a campaign
call feeds it the callee's frames after the answer:

- **live pickups** (every single-word clip: "yes", "no", "stop", "go" and
  spoken digits, 144 clips, 27 speakers): 0.2-1.0 s of line before the word,
  then silence; a third of them say a second short word 0.2-0.4 s after the
  first ("Yes? ... go ahead" stands for "Hello? Hi"), and a person who hears
  nothing says another word 2 s later;
- **machine greetings** (the 80 read sentences, 14 speakers): one speaker's
  sentences, 0.3 s apart, cut to 3-8 s, after 0.3-1.2 s of line; half end
  in a beep (0.3-0.8 s after the greeting, 440-1400 Hz, 0.2-0.6 s), then
  silence;
- **piper greetings** (reported separately, ``--no-piper`` skips them): the
  bundled Piper voice reading ten "you've reached ..., leave a message after
  the tone" greetings, half with a beep.

Channel: a random level (-6 to +3 dB), line noise at -60 dBFS (white,
band-limited by the μ-law quantiser's own noise), then a G.711 μ-law round
trip. Seeds are fixed.

Reported: ``human_accuracy`` (live pickups decided human), ``machine_accuracy``
(greetings decided machine), ``decision_s_p50``/``p95`` over all answers
(seconds from the answer), per class too; ``beep_found_rate`` (greetings with
a beep whose message cue is the beep's end), ``false_beep_rate`` (answers
without a beep where one was "heard"), ``message_after_beep_s_p95`` (cue
time minus the beep's real end), ``talked_over_greeting`` (machines whose
message would start before their greeting ended), ``cpu_us_per_frame``.

Targets (``missed`` lists the misses): human and machine accuracy ≥ 90 %
each (real speech), decision p95 ≤ 3.5 s, beep found ≥ 95 %, false beeps
≤ 2 %, message cue within 0.2 s after the beep's end (p95), piper greetings
≥ 90 % machine. ~6 s (piper rendering ~20 s more).

Tuning: ``greeting_s`` came down from Asterisk's 1.5 s to 1.2 s on this
set (at 1.5 s, 10 of 80 greetings were still undecided at 3 s, most of
them behind a long lead silence); the other defaults are Asterisk AMD's
(0.8 s after-greeting silence) or the first try. The live pickups here are
single words or pairs: a person who answers with a whole sentence ("Hello,
Smith residence, Mary speaking") is taken for a machine, the known price of
greeting-length AMD. Measured 2026-12-01 (seed 9): human 100 %, machine
100 %, piper 100 %, decision p50 2.08 s, p95 2.84 s, beeps 100 % found and
no false one, message cue p95 0.04 s after the beep's end, 44 µs of CPU
per frame; seeds 1 and 2: machine 98.75 % (one greeting undecided).
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import json_stdout, setup_logging, write_result
from _real_speech import REAL_SPEECH

from callcenter.core.settings import load_settings
from outbound.answering_machine import AmdDecision, AnsweringMachineDetector, MessageCue, Verdict

log = logging.getLogger("bench.answering_machine")
DATA = REAL_SPEECH
RATE = 8000
FRAME = RATE // 50
PIPER_GREETINGS = (
    "Hi, you've reached the Johnsons. We can't come to the phone right now. "
    "Please leave a message after the tone.",
    "Hello, this is Maria. Sorry I missed your call. Leave your name and number "
    "and I'll call you back.",
    "You have reached five five five, zero one nine nine. Please leave a message.",
    "Hey, it's Dave. I'm not available right now, so leave a message after the beep.",
    "The person you are calling is not available. At the tone, please record your "
    "message. When you are finished, hang up.",
    "Thank you for calling. Nobody is home right now. Please leave a brief message "
    "and we will return your call as soon as we can.",
    "Hi, this is Sam's phone. I can't answer, but if you leave a message I'll get "
    "back to you.",
    "Hello. You've reached the Patel family. Please leave a message after the beep.",
    "This is Karen Lee. I'm away from my desk. Leave a message and I will call you "
    "back today.",
    "Hi there, you've reached Tom and Lisa. We're out, leave us a message.",
)


@dataclass
class Answer:
    """One simulated answer: the audio and what a perfect detector would find."""

    kind: str  # human | machine | piper
    audio: np.ndarray  # float64 PCM16 scale, before the channel
    greeting_end_s: float | None = None
    beep_end_s: float | None = None


def read_clip(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 8 kHz mono PCM16")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * RATE)))


def beep(rng: random.Random) -> np.ndarray:
    hz, length = rng.uniform(440, 1400), rng.uniform(0.2, 0.6)
    t = np.arange(int(length * RATE)) / RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges, no click
    return 0.25 * 32767 * ramp * np.sin(2 * np.pi * hz * t)


def trim(clip: np.ndarray, row: dict[str, str]) -> np.ndarray:
    """The clip's speech with 0.05 s either side (the files carry 0.2 s)."""
    start = max(0, int((float(row["speech_start_s"]) - 0.05) * RATE))
    end = int((float(row["speech_end_s"]) + 0.05) * RATE)
    return clip[start:end]


def live_pickups(data: Path, rows: list[dict[str, str]], rng: random.Random) -> list[Answer]:
    words = [r for r in rows if r["kind"] in ("word", "digit")]
    answers = []
    for i, row in enumerate(words):
        parts = [silence(rng.uniform(0.2, 1.0)), trim(read_clip(data / row["file"]), row)]
        if i % 3 == 0:
            other = rng.choice(words)
            parts += [silence(rng.uniform(0.2, 0.4)), trim(read_clip(data / other["file"]), other)]
        again = rng.choice(words)
        parts += [silence(2.0), trim(read_clip(data / again["file"]), again), silence(3.0)]
        answers.append(Answer("human", np.concatenate(parts)))
    return answers


def greetings(data: Path, rows: list[dict[str, str]], rng: random.Random) -> list[Answer]:
    sentences = [r for r in rows if r["kind"] == "sentence"]
    by_speaker: dict[str, list[dict[str, str]]] = {}
    for row in sentences:
        by_speaker.setdefault(row["speaker"], []).append(row)
    answers = []
    for i, first in enumerate(sentences):
        length = rng.uniform(3.0, 8.0)
        pool = [r for r in by_speaker[first["speaker"]] if r is not first] or [first]
        parts, total, row = [], 0.0, first
        while total < length:
            clip = trim(read_clip(data / row["file"]), row)
            parts += [clip, silence(0.3)]
            total += (len(clip) + 0.3 * RATE) / RATE
            row = rng.choice(pool)
        greeting = np.concatenate(parts)[:int(length * RATE)]
        answers.append(machine(greeting, with_beep=i % 2 == 0, rng=rng, kind="machine"))
    return answers


def machine(greeting: np.ndarray, *, with_beep: bool, rng: random.Random, kind: str) -> Answer:
    lead = silence(rng.uniform(0.3, 1.2))
    parts = [lead, greeting]
    end = (len(lead) + len(greeting)) / RATE
    beep_end = None
    if with_beep:
        gap, tone = silence(rng.uniform(0.3, 0.8)), beep(rng)
        parts += [gap, tone]
        beep_end = end + (len(gap) + len(tone)) / RATE
    parts.append(silence(4.0))
    return Answer(kind, np.concatenate(parts), end, beep_end)


def piper_greetings(rng: random.Random) -> list[Answer]:
    import asyncio

    from tts.piper_voice import PiperSynthesizer
    from tts.settings import TtsSettings

    voice = PiperSynthesizer(TtsSettings(cache_disk_mb=0))
    try:
        pcm = [asyncio.run(voice.synthesize(text, RATE)) for text in PIPER_GREETINGS]
    finally:
        voice.close()
    return [machine(np.frombuffer(p, "<i2").astype(np.float64), with_beep=i % 2 == 0,
                    rng=rng, kind="piper") for i, p in enumerate(pcm)]


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


_DECODE = _ulaw_decode_table()


def mulaw_round_trip(samples: np.ndarray) -> np.ndarray:
    """G.711 μ-law encode then decode (int16 in, int16 out)."""
    s = samples.astype(np.int32)
    sign = (s < 0).astype(np.int32)
    mag = np.minimum(np.abs(s), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    code = ~((sign << 7) | (exponent << 4) | mantissa) & 0xFF
    return np.asarray(_DECODE[code], dtype=np.int16)


def channel(audio: np.ndarray, rng: np.random.Generator) -> bytes:
    gain = 10 ** (rng.uniform(-6.0, 3.0) / 20)
    noise = rng.normal(0.0, 32768 * 10 ** (-60 / 20), audio.shape)
    mixed = np.clip(audio * gain + noise, -32768, 32767)
    pcm = mulaw_round_trip(mixed)
    pad = (-len(pcm)) % FRAME
    return np.concatenate((pcm, np.zeros(pad, np.int16))).astype("<i2").tobytes()


@dataclass
class Outcome:
    answer: Answer
    decision: AmdDecision
    cue: MessageCue | None
    beep_heard: bool
    frames: int
    cpu_s: float


def run(answer: Answer, pcm: bytes, settings: Any) -> Outcome:
    detector = AnsweringMachineDetector(RATE, settings)
    step = FRAME * 2
    frames = 0
    began = time.process_time()
    for offset in range(0, len(pcm), step):
        detector.feed(pcm[offset:offset + step])
        frames += 1
        if detector.done:
            break
    cpu = time.process_time() - began
    assert detector.decision is not None, "the detector must decide by its deadline"
    return Outcome(answer, detector.decision, detector.cue, detector.beep_heard, frames, cpu)


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate(outcomes: list[Outcome]) -> dict[str, Any]:
    humans = [o for o in outcomes if o.answer.kind == "human"]
    machines = [o for o in outcomes if o.answer.kind == "machine"]
    pipers = [o for o in outcomes if o.answer.kind == "piper"]
    real = humans + machines
    beeped = [o for o in machines + pipers if o.answer.beep_end_s is not None]
    no_beep = [o for o in outcomes if o.answer.beep_end_s is None]
    found = [o for o in beeped if o.cue is not None and o.cue.reason == "beep"]
    lateness = [o.cue.at_s - o.answer.beep_end_s for o in found
                if o.cue is not None and o.answer.beep_end_s is not None]
    over = [o for o in machines + pipers if o.cue is not None
            and o.answer.greeting_end_s is not None and o.cue.at_s < o.answer.greeting_end_s]
    reasons: dict[str, int] = {}
    for o in outcomes:
        key = f"{o.answer.kind}:{o.decision.verdict.value}:{o.decision.reason}"
        reasons[key] = reasons.get(key, 0) + 1
    frames = sum(o.frames for o in outcomes)
    return {
        "human_accuracy": share(sum(o.decision.verdict is Verdict.HUMAN for o in humans),
                                len(humans)),
        "machine_accuracy": share(sum(o.decision.verdict is Verdict.MACHINE for o in machines),
                                  len(machines)),
        "piper_machine_accuracy": share(
            sum(o.decision.verdict is Verdict.MACHINE for o in pipers), len(pipers)),
        "decision_s_p50": pct([o.decision.at_s for o in real], 50),
        "decision_s_p95": pct([o.decision.at_s for o in real], 95),
        "human_decision_s_p50": pct([o.decision.at_s for o in humans], 50),
        "human_decision_s_p95": pct([o.decision.at_s for o in humans], 95),
        "machine_decision_s_p50": pct([o.decision.at_s for o in machines], 50),
        "machine_decision_s_p95": pct([o.decision.at_s for o in machines], 95),
        "piper_decision_s_p50": pct([o.decision.at_s for o in pipers], 50),
        "piper_decision_s_p95": pct([o.decision.at_s for o in pipers], 95),
        "beep_found_rate": share(len(found), len(beeped)),
        "false_beep_rate": share(sum(o.beep_heard for o in no_beep), len(no_beep)),
        "message_after_beep_s_p95": pct(lateness, 95),
        "talked_over_greeting": len(over),
        "cpu_us_per_frame": round(sum(o.cpu_s for o in outcomes) / max(frames, 1) * 1e6, 1),
        "answers": {"human": len(humans), "machine": len(machines), "piper": len(pipers)},
        "reasons": dict(sorted(reasons.items())),
    }


TARGETS = {"human_accuracy": (0.90, "min"), "machine_accuracy": (0.90, "min"),
           "piper_machine_accuracy": (0.90, "min"), "decision_s_p95": (3.5, "max"),
           "beep_found_rate": (0.95, "min"), "false_beep_rate": (0.02, "max"),
           "message_after_beep_s_p95": (0.2, "max")}


def missed(result: dict[str, Any]) -> list[str]:
    misses = []
    for key, (target, how) in TARGETS.items():
        value = result.get(key)
        if value is None:
            continue
        if (how == "min" and value < target) or (how == "max" and value > target):
            misses.append(f"{key} {value} ({how} {target})")
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--no-piper", action="store_true", help="skip the piper greetings")
    args = parser.parse_args()
    setup_logging()
    out = json_stdout()
    result: dict[str, Any] = {"bench": "answering_machine"}
    manifest = args.data / "manifest.tsv"
    if not manifest.is_file():
        result.update({"pass": False, "error": f"no test data at {args.data}"})
        write_result(out, result, ["bench", "pass", "error"])
        return 1
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rng = random.Random(args.seed)
    answers = live_pickups(args.data, rows, rng) + greetings(args.data, rows, rng)
    if not args.no_piper:
        answers += piper_greetings(rng)
    settings = load_settings().outbound.answering_machine
    noise = np.random.default_rng(args.seed)
    outcomes = [run(a, channel(a.audio, noise), settings) for a in answers]
    for o in outcomes:
        if (o.answer.kind == "human") != (o.decision.verdict is Verdict.HUMAN):
            log.info("wrong: %s decided %s (%s) at %.2f s", o.answer.kind,
                     o.decision.verdict.value, o.decision.reason, o.decision.at_s)
    result.update(evaluate(outcomes))
    result["targets"] = {k: f"{how} {v}" for k, (v, how) in TARGETS.items()}
    result["missed"] = missed(result)
    result["pass"] = not result["missed"]
    write_result(out, result, ["bench", "pass", "human_accuracy", "machine_accuracy",
                               "piper_machine_accuracy", "decision_s_p50", "decision_s_p95",
                               "beep_found_rate", "false_beep_rate", "missed"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
