"""Out-of-grammar precision of the dialog's understanding, on recorded human speech.

Prints ONE JSON line on stdout (progress goes to stderr); exits 0 when every
target holds, 1 otherwise or when the data is missing.

Does the flow say "I didn't get that" when the caller said something it does
not expect? Every clip of ``shared/testdata/real-speech-en`` (224 clips of
real human speech, telephone band; ``--data``) is put to three questions:

- ``yes_no``: the clinic's ``not_found`` state ("Would you like to speak with
  the front desk? Say yes or no", a ``yes_no`` ask), where "One moment
  please" and "please try again" were once taken as yes;
- ``menu``: the clinic's ``main_menu`` (confirm, cancel, reschedule, or a
  person; "one", "two", "three", "zero" pick the keys' choices);
- ``digits``: a ``digits`` ask of 1 to 10 digits (an account number); the
  clinic has none, so the benchmark declares that state itself;
- ``time``: the clinic's ``ask_time`` ("And what time on ...?"), where a
  lone digit is a bare hour ("seven": 7 am) and "zero" is not counted.

Recognition and matching are the live path's, in this process: each clip
is recognized as a final by :class:`asr.whisper.WhisperRecognizer` with the
node's ``asr`` settings (config/settings.yaml) and the hints the live state
passes (:func:`dialog.listening.recognition_hints`), and the transcript,
with its confidence, goes through :func:`dialog.runner_turns.interpret` with
the state's intents (:func:`dialog.runner_turns.state_intents`), the
:class:`dialog.intents.FuzzyIntentMatcher` and the state's listening
settings: exactly what ``DialogRunner`` does with a caller turn.

Unrelated (out-of-grammar) utterances per question: the 80 read sentences
(vctk, arctic, cathy, ljspeech) and the words the question does not ask for:
"stop" and "go" everywhere, digits to the yes/no question, "no" and the
digits that are no key of the menu (4 to 9) to the menu, "yes" and "no" to
the digit slot and the time. Anything but no-match counts as accepted,
global intents (a person, repeat) included. Two read sentences are answers to a yes/no
question ("Yes, sir, I corrected.", "No-sir-ee."): the reference transcript
begins with a yes or no word. They are reported as ``answer_like`` for the
yes/no question and the menu, not counted either way.

In-grammar accuracy, so that precision is not bought by deafness: "yes" and
"no" to the yes/no question (filled with true/false), digits to the digit
slot (the digit) and to the time (the hour), "yes" and the keys' digits to
the menu (their choice).
``in_grammar_accuracy`` is end to end (recognizer and matcher): a word
Whisper heard as another ("hero" for "zero") or echoed ("two, two," for
"two", counted in ``in_grammar_echoed``) is a miss there. The matcher's own
share is ``in_grammar_heard_understood``: of the answers whose transcript
holds the answer's word, the share taken as an answer at all (not
no-match).

Synthetic phrases (piper's joe voice, telephone-band like ``asr_wer.py``)
are reported apart: callers' asides that are no answer ("One moment
please", "Please try again", "Sorry, you're breaking up", ...) put to every
question, and everyday phrasings of answers ("Yes please", "No, no",
"I don't think so", an account number read out, ...) to their question.

Targets: out-of-grammar acceptance under 2 % per question, real and
synthetic; at least 95 % of the in-grammar answers heard understood, and
every synthetic answer understood right (or its digits echoed by Whisper).
``--transcripts FILE`` keeps the transcripts (recognition is most of the
run) and reuses them when the file exists.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import sys
import time
import wave
from collections import Counter
from dataclasses import dataclass
from datetime import date
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import ctranslate2
from _common import ROOT, json_stdout, run_measurement, setup_logging, write_result
from _real_speech import REAL_SPEECH
from _telephone import telephone

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from callcenter.core.settings import load_settings
from dialog.datetimes import parse_time
from dialog.flow import AskSpec, StateSpec
from dialog.flow_loader import load_flow
from dialog.intents import FuzzyIntentMatcher, match_dtmf
from dialog.listening import listen_settings, recognition_hints
from dialog.numbers import UNITS, tokenize
from dialog.ports import CallerInput, ListenSettings
from dialog.runner_turns import Heard, interpret, state_intents
from dialog.slots import SlotType
from tests.asr.speech import say

log = logging.getLogger("bench.out_of_grammar")
DATA = REAL_SPEECH
CLINIC = ROOT / "config" / "flows" / "clinic.yaml"
RATE = 8000
TARGET_OOG_SHARE = 0.02
TARGET_UNDERSTOOD = 0.95
READ_SETS = frozenset({"vctk", "arctic", "cathy", "ljspeech"})
QUESTIONS = ("yes_no", "menu", "digits", "time")

DIGITS_STATE = StateSpec(
    say="Please say your account number.",
    ask=AskSpec(slot="account", type=SlotType.DIGITS, min_length=1, max_length=10))

# Callers' asides: no answer to any of the questions.
SYNTH_UNRELATED = (
    "One moment please.", "Please try again.", "Sorry, you're breaking up.",
    "Hold on a second.", "Hello? Can you hear me?", "Just a moment.", "Who is this?",
    "Let me check my calendar.", "I'm driving right now.", "What is this about?",
    "Can you call me back later?", "I think I have the wrong number.",
)
# Everyday answers, each with its question and the value it must give.
SYNTH_ANSWERS: tuple[tuple[str, str, object], ...] = (
    ("yes_no", "Yes please.", True), ("yes_no", "Yeah, sure.", True),
    ("yes_no", "Yes, that's right.", True), ("yes_no", "Sure, go ahead.", True),
    ("yes_no", "Nope.", False), ("yes_no", "No, no.", False),
    ("yes_no", "I don't think so.", False), ("yes_no", "Not really.", False),
    ("yes_no", "No thank you.", False),
    ("digits", "Four five one two.", "4512"),
    ("digits", "My account number is five five five one two three four.", "5551234"),
    ("digits", "Seven oh three.", "703"),
    ("menu", "I'd like to cancel.", "cancel"), ("menu", "Reschedule, please.", "reschedule"),
    ("menu", "Confirm.", "confirm"), ("menu", "Can I talk to someone?", "agent"),
    ("time", "Two thirty in the afternoon.", "14:30:00"), ("time", "Ten a.m.", "10:00:00"),
    ("time", "At three, please.", "15:00:00"),
)
_YES_NO_WORDS = {"yes": True, "no": False}


@dataclass(frozen=True)
class Clip:
    """One utterance: a real clip or a synthetic phrase."""

    key: str
    set: str
    kind: str  # word, digit, sentence, synthetic
    slot: str
    transcript: str
    path: Path | None = None


def _clips(data: Path) -> list[Clip]:
    with (data / "manifest.tsv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Clip(r["file"], r["set"], r["kind"], r["slot"], r["transcript"], data / r["file"])
            for r in rows]


def _pcm(clip: Clip) -> bytes:
    if clip.path is None:
        return telephone(say(clip.transcript, RATE))
    with wave.open(str(clip.path)) as reader:
        if reader.getframerate() != RATE or reader.getsampwidth() != 2:
            raise ValueError(f"{clip.path}: expected 8 kHz 16-bit PCM")
        return reader.readframes(reader.getnframes())


def _answer_like(clip: Clip) -> bool:
    """A read sentence that begins with yes or no answers a yes/no question."""
    first = clip.transcript.lower().replace("-", " ").split()[:1]
    return clip.kind == "sentence" and bool(first) and first[0].strip(",.!") in _YES_NO_WORDS


def expected(question: str, clip: Clip, state: StateSpec) -> object | None:
    """What `clip` must be heard as in `question`: a value, a choice's name,
    None (out of grammar: no-match), or ``...`` (not counted)."""
    if clip.kind == "sentence":
        return ... if question in ("yes_no", "menu") and _answer_like(clip) else None
    if question == "yes_no":
        return _YES_NO_WORDS.get(clip.slot) if clip.kind == "word" else None
    if question == "digits":
        return clip.slot if clip.kind == "digit" else None
    if question == "time":  # a bare hour ("seven"); zero is none, not counted
        if clip.kind != "digit":
            return None
        said = parse_time(clip.transcript)
        return said.isoformat() if said is not None else ...
    if clip.kind == "digit":
        found = match_dtmf(clip.slot, state_intents(state)[0])
        return found.intent if found else None
    if clip.slot == "yes":
        return next((name for name, spec in (state.menu or {}).items()
                     if "yes" in (p.lower() for p in spec.phrases)), None)
    return None


def _value(heard: Heard) -> object | None:
    """What the turn was taken as: a slot's value, an intent's name, or None."""
    if heard.filled is not None:
        value = heard.filled.value
        return value.isoformat() if isinstance(value, date | dt_time) else value
    return heard.intent


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _accepted(row: dict[str, Any]) -> bool:
    return row["label"] not in ("no_match", "no_input")


def _said(row: dict[str, Any]) -> bool:
    """The transcript holds the answer's word: "two" or "2" for the digit 2,
    "yes" for yes (to the menu too), "zero" or "one" for those keys' choices."""
    word = row["word"]
    words = tokenize(row["heard"])
    return word in words or (word in UNITS and str(UNITS[word]) in words)


def _echo(row: dict[str, Any]) -> bool:
    """The digits heard are the right ones said over again ("22" for "2")."""
    want, got = row["expected"], row["as"]
    return (isinstance(want, str) and want.isdigit() and isinstance(got, str)
            and len(got) > len(want) and got == want * (len(got) // len(want)))


def _score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    unrelated = [r for r in rows if r["expected"] is None]
    accepted = [r for r in unrelated if _accepted(r)]
    answers = [r for r in rows if r["expected"] not in (None, "...")]
    right = [r for r in answers if r["as"] == r["expected"]]
    said = [r for r in answers if _said(r)]
    echoed = [r for r in answers if _echo(r)]
    return {
        "out_of_grammar": len(unrelated),
        "oog_accepted": len(accepted),
        "oog_share": _rate(len(accepted), len(unrelated)),
        "oog_accepted_as": dict(Counter(str(r["as"]) for r in accepted)),
        "oog_examples": [{k: r[k] for k in ("clip", "heard", "as")} for r in accepted[:6]],
        "in_grammar": len(answers),
        "in_grammar_correct": len(right),
        "in_grammar_accuracy": _rate(len(right), len(answers)),
        "in_grammar_heard": len(said),
        "in_grammar_heard_understood": _rate(sum(_accepted(r) for r in said), len(said)),
        "in_grammar_echoed": len(echoed),
        "in_grammar_misses": [{k: r[k] for k in ("clip", "heard", "as", "expected")}
                              for r in answers if r["as"] != r["expected"]][:6],
        "in_grammar_misunderstood": [r["clip"] for r in answers
                                     if r["as"] != r["expected"] and not _echo(r)],
    }


class Bench:
    """Recognizes clips with each question's hints and interprets the transcripts."""

    def __init__(self, transcripts: Path | None) -> None:
        self.flow = load_flow(CLINIC)
        self.asr = load_settings().section("asr", AsrSettings)
        self.states = {"yes_no": self.flow.spec.states["not_found"],
                       "menu": self.flow.spec.states["main_menu"], "digits": DIGITS_STATE,
                       "time": self.flow.spec.states["ask_time"]}
        defaults = ListenSettings(endpointing=self.asr.endpointing)
        self.settings = {q: listen_settings(self.flow.spec, s, defaults)
                         for q, s in self.states.items()}
        self.cache_path = transcripts
        self.cache: dict[str, list[Any]] = {}
        if transcripts is not None and transcripts.is_file():
            self.cache = json.loads(transcripts.read_text())
        self._recognizer: WhisperRecognizer | None = None
        self.matcher = FuzzyIntentMatcher()
        self.recognized = 0

    def transcribe(self, clip: Clip, question: str) -> tuple[str, float]:
        key = f"{question}|{clip.key}"
        if key not in self.cache:
            if self._recognizer is None:
                self._recognizer = WhisperRecognizer(self.asr)
            ctranslate2.set_random_seed(7)  # temperature fallback samples: repeatable
            result = self._recognizer.transcribe_blocking(
                _pcm(clip), RATE, final=True, hints=recognition_hints(self.states[question]))
            self.cache[key] = [result.text, result.confidence]
            self.recognized += 1
        text, confidence = self.cache[key]
        return str(text), float(confidence)

    def row(self, clip: Clip, question: str, want: object | None) -> dict[str, Any]:
        text, confidence = self.transcribe(clip, question)
        state = self.states[question]
        heard = asyncio.run(interpret(CallerInput.speech(text, confidence), state,
                                      state_intents(state)[0], self.matcher,
                                      self.settings[question], date.today()))
        return {"clip": clip.key, "word": clip.transcript.lower().strip(" .,!?"),
                "heard": text, "label": heard.label, "as": _value(heard),
                "expected": "..." if want is ... else want}

    def close(self) -> None:
        if self._recognizer is not None:
            self._recognizer.close()
        if self.cache_path is not None:
            self.cache_path.write_text(json.dumps(self.cache, indent=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--transcripts", type=Path, default=None,
                        help="JSON file keeping the transcripts; reused when it exists")
    args = parser.parse_args()
    setup_logging()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    out = json_stdout()
    head = ["bench", "pass", "oog_share", "in_grammar_accuracy", "in_grammar_heard_understood",
            "missed"]
    result: dict[str, Any] = {"bench": "out_of_grammar"}
    if not (args.data / "manifest.tsv").is_file():
        result.update({"pass": False, "error": f"no real-speech clips at {args.data} "
                       "(expected manifest.tsv and audio/; see its README.md)"})
        write_result(out, result, head)
        return 1
    bench = Bench(args.transcripts)
    started = time.perf_counter()

    def measure() -> None:
        clips = _clips(args.data)
        real: dict[str, list[dict[str, Any]]] = {}
        for question in QUESTIONS:
            state = bench.states[question]
            real[question] = [bench.row(c, question, expected(question, c, state))
                              for c in clips]
            log.info("%s: %d clips", question, len(clips))
        unrelated = [Clip(t, "piper", "synthetic", "", t) for t in SYNTH_UNRELATED]
        synth: dict[str, list[dict[str, Any]]] = {}
        for question in QUESTIONS:
            synth[question] = [bench.row(c, question, None) for c in unrelated]
            synth[question] += [bench.row(Clip(t, "piper", "synthetic", "", t), question, v)
                                for q, t, v in SYNTH_ANSWERS if q == question]
        scores = {q: _score(rows) for q, rows in real.items()}
        synth_scores = {q: _score(rows) for q, rows in synth.items()}
        answer_like = [{k: r[k] for k in ("clip", "heard", "as")}
                       for q in ("yes_no", "menu") for r in real[q] if r["expected"] == "..."]
        missed = []
        for q in QUESTIONS:
            if (scores[q]["oog_share"] or 0) >= TARGET_OOG_SHARE:
                missed.append(f"{q}: out-of-grammar share {scores[q]['oog_share']}")
            if (synth_scores[q]["oog_share"] or 0) >= TARGET_OOG_SHARE:
                missed.append(f"{q}: synthetic out-of-grammar share "
                              f"{synth_scores[q]['oog_share']}")
            understood = scores[q]["in_grammar_heard_understood"]
            if understood is not None and understood < TARGET_UNDERSTOOD:
                missed.append(f"{q}: in-grammar answers heard but not understood "
                              f"{understood}")
            if synth_scores[q]["in_grammar_misunderstood"]:
                missed.append(f"{q}: synthetic answers misunderstood: "
                              f"{synth_scores[q]['in_grammar_misunderstood']}")
        result.update({
            "pass": not missed,
            "oog_share": {q: s["oog_share"] for q, s in scores.items()},
            "in_grammar_accuracy": {q: s["in_grammar_accuracy"] for q, s in scores.items()},
            "in_grammar_heard_understood": {q: s["in_grammar_heard_understood"]
                                            for q, s in scores.items()},
            "missed": missed,
            "synthetic_oog_share": {q: s["oog_share"] for q, s in synth_scores.items()},
            "synthetic_in_grammar_accuracy": {q: s["in_grammar_accuracy"]
                                              for q, s in synth_scores.items()},
            "target_oog_share_below": TARGET_OOG_SHARE,
            "target_heard_understood_at_least": TARGET_UNDERSTOOD,
            "questions": scores,
            "synthetic": synth_scores,
            "answer_like": answer_like,
            "clips": len(clips),
            "model": str(bench.asr.model or "bundled tiny.en"),
            "recognized_now": bench.recognized,
        })

    error = run_measurement(measure, log)
    bench.close()
    if error is not None:
        result.update({"pass": False, "error": error})
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    write_result(out, result, head)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
