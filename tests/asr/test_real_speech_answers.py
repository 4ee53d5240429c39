"""Recorded human speech, recognized by Whisper with the live state's hints,
then understood by the clinic's front-desk question (a yes/no ask): the
words yes and no are answers (when Whisper heard them), read sentences are
not. (The whole set, with
the menu and a digit slot: bench/out_of_grammar.py.)"""

from __future__ import annotations

import csv
import wave
from datetime import date
from pathlib import Path

import ctranslate2

from asr.whisper import WhisperRecognizer
from dialog.flow_loader import load_flow
from dialog.intents import FuzzyIntentMatcher
from dialog.listening import recognition_hints
from dialog.numbers import tokenize
from dialog.ports import CallerInput, ListenSettings
from dialog.runner_turns import interpret, state_intents
from tests.support.shared_data import shared_path

CLINIC = Path(__file__).resolve().parents[2] / "config" / "flows" / "clinic.yaml"
# Read sentences that are answers to a yes/no question ("Yes, sir, ...").
_ANSWERS = ("yes", "no")


def _rows(data: Path) -> list[dict[str, str]]:
    with (data / "manifest.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


async def test_only_yes_and_no_answer_the_front_desk_question(
        recognizer: WhisperRecognizer) -> None:
    data = shared_path("real-speech-en")
    state = load_flow(CLINIC).spec.states["not_found"]
    hints, intents = recognition_hints(state), state_intents(state)[0]
    rows = [r for r in _rows(data)
            if (r["kind"] == "word" and r["slot"] in _ANSWERS)
            or (r["set"] == "cathy"
                and r["transcript"].lower().replace("-", " ").split()[0].strip(",.")
                not in _ANSWERS)]
    wrong, misheard = [], []
    for row in rows:
        with wave.open(str(data / row["file"])) as wav:
            pcm = wav.readframes(wav.getnframes())
        ctranslate2.set_random_seed(7)  # temperature fallback samples: repeatable
        heard = recognizer.transcribe_blocking(pcm, wav.getframerate(), final=True, hints=hints)
        meant = await interpret(CallerInput.speech(heard.text, heard.confidence), state,
                                intents, FuzzyIntentMatcher(), ListenSettings(), date.today())
        value = meant.filled.value if meant.filled is not None else meant.intent
        want = {"yes": True, "no": False}.get(row["slot"]) if row["kind"] == "word" else None
        if value == want:
            continue
        if want is not None and row["slot"] not in tokenize(heard.text):
            misheard.append((row["file"], heard.text))  # Whisper's slip ("Now."), not ours
        else:
            wrong.append((row["file"], heard.text, value))
    assert len(rows) == 17 + 18
    assert not wrong, wrong
    assert len(misheard) <= 3, misheard

