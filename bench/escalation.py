"""Escalation on tone and pace: EmoDB speakers made into calm-then-X calls.

Prints ONE JSON line on stdout (progress goes to stderr); exits 0 when every
target holds on both speaker halves, 1 otherwise or when the data is missing.

Data: ``shared/testdata/emotion-emodb`` beside the checkout (``--data``),
8 kHz telephone-band clips of 10 actors. Each simulated call is one
speaker: 2 neutral clips (the caller's calm baseline), then 4 clips of the
target emotion, 1.2 s of silence between clips. Clips are fed one by one to
an :class:`asr.agitation.AgitationTracker` (as the endpointer would hand
them over, no transcript: tone and pace only) and the default policy
decides after each through :class:`dialog.escalation_policy.EscalationWatch`,
the code a live call runs (``callcenter.caller_agitation`` feeds the same
tracker, the dialog runner the same watch). ``--calls``
calls per speaker and kind, clips drawn with a fixed seed (distinct where
the speaker has enough, else with repeats). Kinds:

- ``angry``, ``neutral``, ``happy``: as above;
- ``loud_neutral`` / ``loud_happy`` / ``loud_angry``: the same clips with
  the baseline 6 dB quieter, i.e. the target clips 6 dB louder than the
  caller's calm start (scaling the baseline down avoids clipping the loud
  clips). Loudness alone must not escalate a calm or happy caller.

Reported per half: share of calls escalated per kind; ``delay_s_p50``, the
median call time from the start of the first angry clip to the end of the
clip that triggered the escalation (``delay_from_end_s_p50``: from the end
of the first angry clip); ``reasons``: which rule fired, over all kinds;
``cpu_per_audio_s``: process CPU time of feeding and deciding, over the
audio fed; ``missed``: the targets not met.

Speakers alternate between halves in sorted order. ``train`` is where the
defaults were chosen: the tone weights by logistic regression (``--tune``
prints the fit), the voicing threshold of :mod:`asr.prosody`, the pitch-rise
cap and the tone operating point by these figures on ``train`` alone.
``test`` is held out. The k-of-n tone rule and the pace rule changed
nothing on ``train`` and keep conservative defaults.

``--cv`` checks the tuning within ``train`` alone: each train speaker in
turn is left out, the tone weights are refitted on the other four (bias
moved as the defaults' was) and the default policy is scored on the one left
out. It never reads the ``test`` speakers. Measured 2026-12-01: no policy
setting (thresholds, k of n, single, a bias shift, happy clips weighted 1 to
3 in the fit) does better on ``train`` than the defaults (happy 35 % at angry
92.5 %), and this cross-validation gives angry 75 %, happy 27.5 %: the
speakers differ more than the settings do, so the held-out figures stand as
measured (happy 52.5 %, over the target).

New features, searched on ``train`` alone (same fit, ``--cv``), none kept:
spectral flatness, centroid, slope and band ratios, a 10-band mel-cepstrum
shape, spectral flux, Hammarberg index, pitch spread below / above the
median, pitch velocity, rising / falling share, jitter and shimmer proxies,
energy-onset steepness, level spread (each against the baseline), and
absolute pitch range, flatness, tilt, voiced share. Only absolute voice
quality lowered happy at equal angry in cross-validation (at 90 % angry:
happy 42.5 % instead of 70 %): spectral flatness (but neutral rose to 20 %)
and the utterance's own aperiodicity, as joy keeps a cleaner voice than
anger or calm (train medians 0.12 vs 0.15 and 0.17); raw, it let line noise
escalate calm callers (train neutral 27.5 % at 12 dB SNR), so it was
measured with the noise floor's share taken out (0.65 x noise/frame power,
noise from the quietest 5 % of frames). With it (bias moved -0.5): train
angry 90 %, happy 22.5 %; ``--cv`` angry 75 %, neutral 12.5 %, happy 22.5 %
(defaults: 75, 10, 27.5). Held out, looked at once: angry 97.5 %,
happy 60 %, loud happy 67.5 % (defaults: 100, 52.5, 52.5): the defaults stay.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import random
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, json_stdout, setup_logging, write_result

from asr.agitation import AgitationConfig, AgitationTracker, Baseline, ToneWeights
from asr.prosody import UtteranceProsody, measure_utterance
from dialog.escalation_policy import EscalationConfig, EscalationWatch

log = logging.getLogger("bench.escalation")
DATA = ROOT.parent / "shared" / "testdata" / "emotion-emodb"
RATE = 8000
GAP_S = 1.2
BASELINE_CLIPS = 2
TARGET_CLIPS = 4
KINDS = ("angry", "neutral", "happy", "loud_neutral", "loud_happy", "loud_angry")
TARGETS = {"angry_escalated_min": 0.9, "delay_s_p50_max": 4.0, "neutral_escalated_max": 1 / 6,
           "happy_escalated_max": 0.5, "loud_neutral_escalated_max": 1 / 6,
           "loud_happy_escalated_max": 0.5,
           "loud_angry_escalated_min": 0.9, "cpu_per_audio_s_max": 0.02}


@dataclass(frozen=True)
class Call:
    speaker: str
    kind: str
    clips: tuple[np.ndarray, ...]  # baseline first


def load_clips(data: Path) -> dict[tuple[str, str], list[np.ndarray]]:
    """Clips by (speaker, emotion), in manifest order."""
    clips: dict[tuple[str, str], list[np.ndarray]] = {}
    with (data / "manifest.tsv").open(encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            with wave.open(str(data / row["file"])) as wav:
                if wav.getframerate() != RATE or wav.getnchannels() != 1:
                    raise ValueError(f"{row['file']}: expected 8 kHz mono")
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            clips.setdefault((row["speaker"], row["emotion"]), []).append(pcm)
    return clips


def _draw(rng: random.Random, pool: list[np.ndarray], count: int,
          avoid: set[int]) -> list[int]:
    fresh = [i for i in range(len(pool)) if i not in avoid]
    if len(fresh) >= count:
        return rng.sample(fresh, count)
    return fresh + [rng.randrange(len(pool)) for _ in range(count - len(fresh))]


def build_calls(clips: dict[tuple[str, str], list[np.ndarray]], speakers: list[str],
                per_kind: int, seed: int = 7) -> list[Call]:
    """`per_kind` calls of every kind for each speaker, deterministic in `seed`."""
    calls: list[Call] = []
    for speaker in speakers:
        neutral = clips[(speaker, "neutral")]
        for kind in KINDS:
            emotion = kind.removeprefix("loud_")
            pool = clips[(speaker, emotion)]
            rng = random.Random(f"{seed}:{speaker}:{emotion}")  # loud_X reuses X's draws
            for _ in range(per_kind):
                base = _draw(rng, neutral, BASELINE_CLIPS, set())
                target = _draw(rng, pool, TARGET_CLIPS, set(base) if emotion == "neutral"
                               else set())
                calm = [neutral[i] for i in base]
                if kind.startswith("loud_"):
                    calm = [(c // 2).astype(np.int16) for c in calm]
                calls.append(Call(speaker, kind, tuple(calm + [pool[i] for i in target])))
    return calls


@dataclass(frozen=True)
class Outcome:
    delay_s: float | None
    """From the first target clip's start to the decision; None: never."""
    delay_from_end_s: float | None
    reason: str | None
    cpu_s: float
    audio_s: float


def run_call(call: Call, policy: EscalationConfig, config: AgitationConfig) -> Outcome:
    """Feed the call clip by clip, asking the policy after each."""
    tracker, watch = AgitationTracker(config), EscalationWatch(policy)
    cpu = audio = 0.0
    target_start = first_end = 0.0
    for i, clip in enumerate(call.clips):
        start = time.process_time()
        scores = tracker.feed(clip, RATE, gap_s=GAP_S if i else 0.0)
        decision = watch.hear([scores])
        cpu += time.process_time() - start
        audio += len(clip) / RATE
        if i == BASELINE_CLIPS:
            target_start, first_end = scores.end_s - len(clip) / RATE, scores.end_s
        if decision.escalate:
            return Outcome(scores.end_s - target_start, max(0.0, scores.end_s - first_end),
                           decision.reason, cpu, audio)
    return Outcome(None, None, None, cpu, audio)


def evaluate(calls: list[Call], policy: EscalationConfig,
             config: AgitationConfig) -> dict[str, Any]:
    """The report of one speaker half."""
    escalated: dict[str, list[bool]] = {kind: [] for kind in KINDS}
    delays: list[float] = []
    delays_from_end: list[float] = []
    reasons: dict[str, int] = {}
    cpu = audio = 0.0
    for call in calls:
        outcome = run_call(call, policy, config)
        cpu, audio = cpu + outcome.cpu_s, audio + outcome.audio_s
        escalated[call.kind].append(outcome.reason is not None)
        if outcome.reason is not None:
            reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        if call.kind == "angry" and outcome.delay_s is not None:
            delays.append(outcome.delay_s)
            delays_from_end.append(outcome.delay_from_end_s or 0.0)
    report: dict[str, Any] = {
        f"{kind}_escalated": round(sum(flags) / len(flags), 3) for kind, flags in
        escalated.items()}
    report["delay_s_p50"] = round(statistics.median(delays), 2) if delays else None
    report["delay_from_end_s_p50"] = (round(statistics.median(delays_from_end), 2)
                                      if delays else None)
    report["reasons"] = reasons
    report["cpu_per_audio_s"] = round(cpu / audio, 4)
    report["calls"] = {kind: len(flags) for kind, flags in escalated.items()}
    report["missed"] = missed_targets(report)
    report["pass"] = not report["missed"]
    return report


def missed_targets(r: dict[str, Any]) -> list[str]:
    """The names of the targets `r` misses."""
    missed = []
    for name, bound in TARGETS.items():
        key, kind = name.rsplit("_", 1)
        value = r[key]
        if value is None or (value < bound if kind == "min" else value > bound):
            missed.append(name)
    return missed


def tune(calls: list[Call], happy_weight: float) -> dict[str, Any]:
    """Fit the tone weights on `calls` (angry clips against neutral and happy
    ones, each against its call's baseline) by L2-regularised logistic
    regression; loudness is left out (EmoDB is level-normalised)."""
    names = ["pitch_level_st", "pitch_range_st", "spectral_tilt_db", "high_band_db",
             "aperiodicity", "voiced_share"]
    rows: list[list[float]] = []
    labels: list[float] = []
    weights: list[float] = []
    cap = ToneWeights().pitch_rise_cap_st
    for call in calls:
        if call.kind not in ("angry", "neutral", "happy"):
            continue
        measured: list[UtteranceProsody] = [measure_utterance(c, RATE) for c in call.clips]
        baseline = Baseline.of(measured[:BASELINE_CLIPS])
        for utterance in measured[BASELINE_CLIPS:]:
            change = dataclasses.asdict(baseline.change(utterance))
            change["pitch_level_st"] = min(change["pitch_level_st"], cap)
            rows.append([change[n] for n in names])
            labels.append(1.0 if call.kind == "angry" else 0.0)
            weights.append(happy_weight if call.kind == "happy" else 1.0)
    x, y, w = np.array(rows), np.array(labels), np.array(weights)
    scale = x.std(axis=0)
    z = np.hstack([np.ones((len(x), 1)), x / scale])
    beta = np.zeros(z.shape[1])
    ridge = np.diag([0.0] + [1.0] * len(names))
    for _ in range(50):  # Newton steps
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (w * (p - y)) + ridge @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + ridge
        beta -= np.linalg.solve(hessian, gradient)
    fitted = {"bias": round(float(beta[0]), 3)}
    fitted.update({n: round(float(b / s), 4) for n, b, s in zip(names, beta[1:], scale,
                                                                strict=True)})
    return {"tone_fit": fitted, "utterances": len(y)}


def cross_validate(calls: list[Call], speakers: list[str], happy_weight: float) -> dict[str, Any]:
    """Leave one of `speakers` out, refit the tone weights on the others (the
    defaults' bias shift kept), score the default policy on the one left out."""
    all_fit = tune(calls, happy_weight)["tone_fit"]
    shift = ToneWeights().bias - all_fit["bias"]
    per_speaker: dict[str, Any] = {}
    for held in speakers:
        fit = tune([c for c in calls if c.speaker != held], happy_weight)["tone_fit"]
        weights = ToneWeights(
            bias=fit["bias"] + shift, pitch_level_per_st=fit["pitch_level_st"],
            pitch_range_per_st=fit["pitch_range_st"], spectral_tilt_per_db=fit["spectral_tilt_db"],
            high_band_per_db=fit["high_band_db"], aperiodicity_per_unit=fit["aperiodicity"],
            voiced_share_per_unit=fit["voiced_share"])
        report = evaluate([c for c in calls if c.speaker == held], EscalationConfig(),
                          AgitationConfig(tone=weights))
        per_speaker[held] = {k: report[f"{k}_escalated"] for k in ("angry", "neutral", "happy")}
    mean = {kind: round(statistics.mean(r[kind] for r in per_speaker.values()), 3)
            for kind in ("angry", "neutral", "happy")}
    return {"cv_mean": mean, "cv_per_speaker": per_speaker, "bias_shift": round(shift, 3)}


def main() -> int:
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--calls", type=int, default=8, help="calls per speaker and kind")
    parser.add_argument("--tune", action="store_true", help="print the fit on the train half")
    parser.add_argument("--cv", action="store_true",
                        help="leave-one-speaker-out check within the train half")
    parser.add_argument("--happy-weight", type=float, default=1.0,
                        help="--tune: weight of a happy utterance against a neutral one")
    args = parser.parse_args()
    out = json_stdout()
    if not (args.data / "manifest.tsv").is_file():
        print(f"bench/escalation.py: EmoDB test data not found at {args.data} "
              "(expected manifest.tsv and audio/; see shared/testdata/emotion-emodb/README.md)",
              file=sys.stderr)
        return 1
    clips = load_clips(args.data)
    speakers = sorted({speaker for speaker, _ in clips})
    halves = {"train": speakers[0::2], "test": speakers[1::2]}
    if args.tune:
        write_result(out, tune(build_calls(clips, halves["train"], args.calls),
                                   args.happy_weight), [])
        return 0
    if args.cv:
        write_result(out, cross_validate(build_calls(clips, halves["train"], args.calls),
                                         halves["train"], args.happy_weight), ["cv_mean"])
        return 0
    config, policy = AgitationConfig(), EscalationConfig()
    result: dict[str, Any] = {"pass": False}
    for half, members in halves.items():
        log.info("%s: %s", half, members)
        result[half] = evaluate(build_calls(clips, members, args.calls), policy, config)
    result["pass"] = result["train"]["pass"] and result["test"]["pass"]
    result.update({
        "tuned_on": "train", "speakers": halves, "calls_per_speaker_and_kind": args.calls,
        "target": {k: round(v, 3) for k, v in TARGETS.items()},
        "policy": policy.model_dump(),
        "tone_weights": dataclasses.asdict(ToneWeights()),
        "note": "tone weights and policy thresholds were fitted on the train speakers only; "
                "test speakers are held out; no transcripts (tone and pace only); delay runs "
                "to the end of the triggering clip, before any endpointing silence"})
    write_result(out, result, ["pass", "test", "train"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
