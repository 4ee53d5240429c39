"""End-of-turn decisions at the first pause, on recorded human telephone speech.

Prints ONE JSON line on stdout (progress goes to stderr).

The clips of ``shared/testdata/real-speech-en`` (8 kHz, G.711, 224 clips:
80 read sentences, 144 single words and digits) give two kinds of turn,
cut where the live stream decides (``asr.pause_probe_ms`` into a pause):

- *complete*: every clip up to ``speech_end_s`` plus the pause probe;
- *incomplete*: every read sentence cut inside its speech at a pause the
  node's own VAD (``asr.vad``, the node's settings) finds silent for at
  least ``--min-pause-ms`` (120), after at least 300 ms of speech and more
  than 300 ms before its end; the cut keeps the silence up to the pause
  probe. A sentence yields one turn per such pause.

Candidates, each as accuracy on complete and on incomplete turns:

- ``smart_turn``: :class:`asr.end_of_turn.SmartTurnDetector` (smart-turn
  v3.2 ONNX from the ``pipecat-ai`` wheel), finished when p >= threshold
  (``asr.end_of_turn.threshold``; ``thresholds`` sweeps it);
- ``prosody``: a logistic regression on end-of-utterance prosody of our own
  (pitch slope and final pitch against the utterance's median, YIN from
  :mod:`asr.prosody`; loudness fall and length of the last voiced stretch),
  scored by 5-fold cross-validation grouped by speaker, so no speaker is
  scored by a model fitted on their voice;
- ``punctuation``: today's rule, :func:`asr.endpointing.looks_complete` on
  a tiny.en final of the same audio (the node's ``asr`` settings, no hints);
  off with ``--no-text``;
- ``combined``: what the node runs, :func:`asr.end_of_turn.decide` (the
  audio decides, a transcript stopping on "and", "my", "the" keeps it open).

``short_silence_share`` is the share of complete turns that end on the
short end silence (``end_silence_ms_complete``) instead of the long one:
the voice-to-voice gain. ``ms_per_decision`` is wall time of one decision
in this thread, ``cpu_ms_per_decision`` its CPU time (one onnxruntime
thread): the machine may be shared, so CPU time is the steadier figure.

``cut_off_share``: of the turns cut at a pause at least as long as the
short end silence, the share judged finished, so the caller would be cut
off there. Turns whose cut ends a sentence of the corpus transcript (the
tiny.en text of the cut aligned to it) are left out of the incomplete ones
(``cuts_at_sentence_end_left_out``): there the reader had finished.

``pass``: the node's rule (``combined``) ends at least 90 % of the complete
turns on the short silence and keeps no fewer unfinished turns open than
the punctuation rule. The read sentences pause at commas with a falling
voice, much as at a full stop, so no candidate keeps most of them open:
``incomplete_accuracy`` is a floor to hold, not a target yet.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import logging
import re
import statistics
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import json_stdout, run_measurement, setup_logging, write_result
from _real_speech import REAL_SPEECH

from asr.end_of_turn import SmartTurnDetector, decide
from asr.endpointing import looks_complete
from asr.prosody import fold_octave_errors, pcm16_to_float, yin_pitch
from asr.settings import AsrSettings
from asr.vad import VoiceActivityDetector
from callcenter.core.settings import load_settings

log = logging.getLogger("bench.end_of_turn")
RATE = 8000
FRAME_MS = 20
DATA = REAL_SPEECH
TARGET_ACCURACY = 0.90


@dataclass
class Turn:
    """One decision to make: audio up to a pause, and whether the turn is over."""

    clip: str
    speaker: str
    kind: str
    complete: bool
    pcm: bytes = field(repr=False)
    scores: dict[str, float] = field(default_factory=dict)
    text: str | None = None
    pause_ms: int = 0
    voiced_ms: int = 0
    reference: str = ""
    at_sentence_end: bool = False


def read_clips(data: Path) -> list[dict[str, Any]]:
    rows = []
    with open(data / "manifest.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            with wave.open(str(data / row["file"])) as w:
                assert w.getframerate() == RATE and w.getnchannels() == 1
                row["pcm"] = w.readframes(w.getnframes())
            rows.append(row)
    return rows


def voiced_frames(pcm: bytes, asr: AsrSettings) -> list[bool]:
    """The node's VAD decision per 20 ms frame."""
    vad = VoiceActivityDetector(RATE, aggressiveness=asr.vad_aggressiveness,
                                frame_ms=FRAME_MS, energy_floor_dbfs=asr.vad_energy_floor_dbfs)
    size = RATE * FRAME_MS // 1000 * 2
    return [vad.is_speech(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]


def internal_pauses(pcm: bytes, start_s: float, end_s: float, asr: AsrSettings,
                    min_pause_ms: int) -> list[tuple[int, int]]:
    """(start, length) in ms of VAD pauses inside the speech, ends kept clear."""
    voiced = voiced_frames(pcm, asr)
    pauses, run_start = [], None
    lo, hi = int(start_s * 1000) + 300, int(end_s * 1000) - 300
    for i, v in enumerate([*voiced, True]):
        t = i * FRAME_MS
        if not v and run_start is None:
            run_start = t
        elif v and run_start is not None:
            if t - run_start >= min_pause_ms and lo <= run_start <= hi:
                pauses.append((run_start, t - run_start))
            run_start = None
    return pauses


def make_turns(rows: Sequence[dict[str, Any]], asr: AsrSettings, min_pause_ms: int) -> list[Turn]:
    probe = asr.pause_probe_ms
    turns = []
    for row in rows:
        pcm, start, end = row["pcm"], float(row["speech_start_s"]), float(row["speech_end_s"])
        cut = int((end + probe / 1000) * RATE) * 2
        turns.append(Turn(row["file"], row["speaker"], row["kind"], True, pcm[:cut],
                          reference=row["transcript"]))
        if row["kind"] != "sentence":
            continue
        for at, length in internal_pauses(pcm, start, end, asr, min_pause_ms):
            cut = (at + min(length, probe)) * RATE // 1000 * 2
            turns.append(Turn(row["file"], row["speaker"], row["kind"], False, pcm[:cut],
                              pause_ms=length, reference=row["transcript"]))
    for turn in turns:
        turn.voiced_ms = sum(voiced_frames(turn.pcm, asr)) * FRAME_MS
    return turns


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def ends_a_sentence(reference: str, heard: str) -> bool:
    """Whether the words `heard` (a transcript of a cut) end, in `reference`,
    at a full stop, question mark, colon or semicolon: a cut there is a
    finished sentence, not an unfinished turn, so it is left out."""
    tokens = reference.split()
    ref = [" ".join(_words(t)) for t in tokens]
    hyp = _words(heard)
    blocks = [b for b in difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
              .get_matching_blocks() if b.size]
    if not blocks:
        return False
    last = blocks[-1].a + blocks[-1].size - 1
    return tokens[last].rstrip("\"')").endswith((".", "?", "!", ":", ";"))


# -- our own prosody classifier ------------------------------------------------


def prosody_features(pcm: bytes) -> list[float]:
    """End-of-utterance prosody: pitch slope and level at the end, loudness
    fall, length of the last voiced stretch (every level relative to the
    utterance itself, so the speaker's voice and the line level cancel)."""
    samples = pcm16_to_float(pcm)
    f0, aperiodicity = yin_pitch(samples)
    hop = RATE // 100
    frames = len(samples) // hop
    power = np.array([float(np.mean(samples[i * hop:(i + 1) * hop] ** 2)) + 1e-12
                      for i in range(frames)])
    db = 10 * np.log10(power)
    n = min(len(f0), len(db))
    f0, aperiodicity, db = f0[:n], aperiodicity[:n], db[:n]
    speech = db > db.max() - 30
    voiced = (aperiodicity < 0.35) & speech
    last = int(np.nonzero(speech)[0][-1]) if speech.any() else n - 1
    semitones = np.full(n, np.nan)
    if voiced.any():
        semitones[voiced] = 12 * np.log2(fold_octave_errors(f0[voiced]))
    median = float(np.nanmedian(semitones)) if voiced.any() else 0.0
    idx = np.nonzero(voiced)[0]
    tail = idx[idx >= idx[-1] - 30] if len(idx) else idx
    tail = tail[~np.isnan(semitones[tail])]
    slope = float(np.polyfit(tail / 100, semitones[tail], 1)[0]) if len(tail) >= 4 else 0.0
    final_level = float(np.nanmean(semitones[tail]) - median) if len(tail) else 0.0
    active = float(np.mean(db[speech]))
    end_level = float(np.mean(db[max(0, last - 15):last + 1])) - active
    run = 0
    for v in voiced[:last + 1][::-1]:
        if not v:
            break
        run += 1
    return [max(-60.0, min(60.0, slope)), final_level, end_level, run / 100]


def _fit(x: np.ndarray, y: np.ndarray, steps: int = 2000) -> tuple[np.ndarray, float]:
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= 0.1 * (x.T @ (p - y) / len(y) + 1e-3 * w)
        b -= 0.1 * float(np.mean(p - y))
    return w, b


def prosody_cv(turns: list[Turn], folds: int = 5) -> float:
    """Cross-validated P(complete) per turn into ``scores['prosody']``;
    returns the mean time of one feature extraction in ms."""
    started = time.perf_counter()
    feats = np.array([prosody_features(t.pcm) for t in turns])
    per_turn_ms = (time.perf_counter() - started) * 1000 / len(turns)
    y = np.array([t.complete for t in turns], dtype=float)
    speakers = sorted({t.speaker for t in turns})
    fold_of = {s: i % folds for i, s in enumerate(speakers)}
    fold = np.array([fold_of[t.speaker] for t in turns])
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = feats[train].mean(0), feats[train].std(0) + 1e-9
        # Balance the classes: there are more complete turns than cut ones.
        weight = np.where(y[train] == 1, 1.0, y[train].sum() / max(1, (1 - y[train]).sum()))
        reps = np.repeat(np.arange(train.sum()), np.round(weight * 2).astype(int))
        w, b = _fit(((feats[train] - mean) / std)[reps], y[train][reps])
        p = 1 / (1 + np.exp(-(((feats[test] - mean) / std) @ w + b)))
        for i, prob in zip(np.nonzero(test)[0], p, strict=True):
            turns[i].scores["prosody"] = float(prob)
    return per_turn_ms


# -- scoring ----------------------------------------------------------------------


def accuracy(turns: Sequence[Turn], finished: Callable[[Turn], bool | None]) -> dict[str, Any]:
    complete = [t for t in turns if t.complete]
    cut = [t for t in turns if not t.complete]
    said = {id(t): bool(finished(t)) for t in turns}
    words = [t for t in complete if t.kind != "sentence"]
    sentences = [t for t in complete if t.kind == "sentence"]
    return {
        "complete_accuracy": round(sum(said[id(t)] for t in complete) / len(complete), 3),
        "incomplete_accuracy": round(sum(not said[id(t)] for t in cut) / len(cut), 3),
        "complete_words_accuracy": round(sum(said[id(t)] for t in words) / len(words), 3),
        "complete_sentences_accuracy": round(sum(said[id(t)] for t in sentences)
                                             / len(sentences), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--min-pause-ms", type=int, default=120)
    parser.add_argument("--details", type=Path, default=None,
                        help="write every turn's scores and text here (JSON lines)")
    parser.add_argument("--model", type=Path, default=None,
                        help="smart-turn ONNX file (default: the one pipecat-ai ships)")
    args = parser.parse_args()
    setup_logging()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    out = json_stdout()
    result: dict[str, Any] = {"bench": "end_of_turn", "pass": False}

    def body() -> None:
        asr = load_settings().section("asr", AsrSettings)
        threshold = asr.end_of_turn.threshold
        short_ms = asr.endpointing.short_answer_ms
        turns = make_turns(read_clips(args.data), asr, args.min_pause_ms)

        from asr.whisper import WhisperRecognizer

        rec = WhisperRecognizer(asr)
        compute = []
        for i, t in enumerate(turns):
            transcript = rec.transcribe_blocking(t.pcm, RATE, final=True)
            t.text = transcript.text
            compute.append(transcript.compute_seconds)
            if i % 50 == 0:
                log.info("transcribed %d/%d", i, len(turns))
        rec.close()
        dropped = [t for t in turns if not t.complete and ends_a_sentence(t.reference, t.text)]
        turns = [t for t in turns if t.complete or t not in dropped]
        complete = sum(t.complete for t in turns)
        result.update(turns_complete=complete, turns_incomplete=len(turns) - complete,
                      cuts_at_sentence_end_left_out=len(dropped),
                      pause_probe_ms=asr.pause_probe_ms, threshold=threshold)
        log.info("%d complete turns, %d cut at a pause (%d more at a sentence end left out)",
                 complete, len(turns) - complete, len(dropped))
        long_pause = asr.endpointing.end_silence_ms_complete

        def score(finished: Callable[[Turn], bool | None]) -> dict[str, Any]:
            row = accuracy(turns, finished)
            row["short_silence_share"] = row["complete_accuracy"]
            cut = [t for t in turns if not t.complete and t.pause_ms >= long_pause]
            row["cut_off_share"] = round(sum(bool(finished(t)) for t in cut) / len(cut), 3)
            return row

        detector = SmartTurnDetector(args.model or asr.end_of_turn.model, threads=1)
        detector.probability(turns[0].pcm, RATE)  # warm-up
        wall, cpu = [], []
        for t in turns:
            w0, c0 = time.perf_counter(), time.thread_time()
            t.scores["smart_turn"] = detector.probability(t.pcm, RATE)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.thread_time() - c0)
        smart = score(lambda t: t.scores["smart_turn"] >= threshold)
        smart.update(ms_per_decision=round(statistics.median(wall) * 1000, 1),
                     cpu_ms_per_decision=round(statistics.median(cpu) * 1000, 1),
                     thresholds={f"{th:.1f}": score(lambda t, th=th:
                                                    t.scores["smart_turn"] >= th)
                                 for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)})
        result["smart_turn"] = smart
        log.info("smart_turn: %s", smart)

        prosody_ms = prosody_cv(turns)
        own = score(lambda t: t.scores["prosody"] >= 0.5)
        own["ms_per_decision"] = round(prosody_ms, 1)
        result["prosody"] = own
        log.info("prosody: %s", own)

        punct = score(lambda t: looks_complete(t.text or ""))
        punct["ms_per_decision"] = round(statistics.median(compute) * 1000, 1)
        result["punctuation"] = punct

        def node(t: Turn) -> bool | None:
            return decide(t.scores["smart_turn"], t.text, threshold,
                          short=t.voiced_ms < short_ms)

        result["combined"] = score(node)
        result["missed_examples"] = [
            {"clip": t.clip, "complete": t.complete, "p": round(t.scores["smart_turn"], 3),
             "text": t.text} for t in turns if node(t) != t.complete][:12]
        log.info("punctuation: %s; combined: %s", punct, result["combined"])
        if args.details:
            with open(args.details, "w") as f:
                for t in turns:
                    f.write(json.dumps({"clip": t.clip, "complete": t.complete,
                                        "pause_ms": t.pause_ms, "voiced_ms": t.voiced_ms,
                                        "kind": t.kind, "text": t.text, **t.scores}) + "\n")
        result["pass"] = (result["combined"]["complete_accuracy"] >= TARGET_ACCURACY
                          and result["combined"]["incomplete_accuracy"]
                          >= punct["incomplete_accuracy"])

    error = run_measurement(body, log)
    if error:
        result["error"] = error
    write_result(out, result, ["bench", "pass", "smart_turn", "prosody", "punctuation",
                               "combined"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
