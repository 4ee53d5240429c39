"""Word error rate and speed of Whisper per encoder window, on call audio.

Prints ONE JSON line on stdout (progress goes to stderr).

Thirty short call-center answers (confirmations, dates, times, numbers,
names, "I want to talk to an agent", "cancel my appointment") are spoken by
several synthetic voices: piper's joe (at normal and slow speed, without
synthesis noise so runs repeat) and espeak-ng's en-us, en-us+f3, en-gb and
en-gb-scotland. Each is made telephone-band: resampled to 8 kHz and passed
through 8-bit mu-law companding, like a G.711 call. Every utterance is
then recognized as a final by :class:`asr.whisper.WhisperRecognizer` with
the default settings, once per window (``--windows``, default 30, 15, 10 s),
in this thread, one at a time; ``--mode partial`` decodes as partials are
(greedy, no fallback), for ``asr.partial_window_s``.

WER is jiwer's corpus WER after normalization (case, punctuation,
contractions, numbers spelled out); ``wer_lenient`` also reads ordinals as
cardinals, so "March 3, 1982" for "March third, nineteen eighty two" is no
error. ``rtf`` is compute time over audio time. ``looks_complete`` counts
transcripts that the endpointer's heuristic reads as finished answers
(every utterance here is one; it picks the short end silence).

A window "loses no accuracy" when its WER is not above the reference
(first) window's: ``no_loss_windows`` (and ``no_loss_windows_lenient``).
``pass`` only checks that recognition works at all (reference WER at most
``target_wer_30``); the window decision is read from ``no_loss_windows``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from typing import Any

import ctranslate2
import jiwer
from _common import json_stdout, setup_logging
from _telephone import telephone
from num2words import num2words

from asr.endpointing import looks_complete
from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from tests.asr.speech import say

log = logging.getLogger("bench.asr_wer")
RATE = 8000
TARGET_WER_30 = 0.35

UTTERANCES = [
    "Yes.",
    "No.",
    "Yes, that's correct.",
    "No, that's not right.",
    "I want to talk to an agent.",
    "Can I speak to a real person, please?",
    "Cancel my appointment.",
    "I need to reschedule my appointment for next Tuesday.",
    "Can I come in on Friday at three thirty in the afternoon?",
    "My date of birth is March third, nineteen eighty two.",
    "My name is Margaret Thompson.",
    "The appointment is for my son, David Miller.",
    "My account number is four five one two seven eight.",
    "My phone number is five five five, two one three, four four eight nine.",
    "The fourteenth of June at ten in the morning works for me.",
    "I'd like to pay my bill.",
    "What are your opening hours on Saturday?",
    "Please call me back tomorrow morning.",
    "I'm calling about my order from last week.",
    "Representative.",
    "I need a refill of my prescription.",
    "Could you repeat that, please?",
    "I'd like to book a cleaning with Doctor Patel.",
    "Monday works better for me.",
    "Sorry, I didn't catch that.",
    "My zip code is nine zero two one zero.",
    "Two o'clock is fine.",
    "I was charged twice this month.",
    "Please confirm the appointment on the twenty first of May.",
    "Thank you, goodbye.",
]

VOICES: dict[str, dict[str, Any]] = {
    "piper-joe": {"engine": "piper"},
    "piper-joe-slow": {"engine": "piper", "length_scale": 1.25},
    "espeak-en-us": {"engine": "espeak", "voice": "en-us"},
    "espeak-en-us-f3": {"engine": "espeak", "voice": "en-us+f3"},
    "espeak-en-gb": {"engine": "espeak", "voice": "en-gb"},
    "espeak-en-gb-scotland": {"engine": "espeak", "voice": "en-gb-scotland"},
}

_CONTRACTIONS = {
    "i'm": "i am", "i'd": "i would", "i'll": "i will", "i've": "i have", "it's": "it is",
    "that's": "that is", "what's": "what is", "there's": "there is", "let's": "let us",
    "don't": "do not", "didn't": "did not", "doesn't": "does not", "isn't": "is not",
    "can't": "cannot", "won't": "will not", "you're": "you are", "we're": "we are",
}
_WORDS = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ok": "okay", "oh": "zero"}


def _spoken(value: int, to: str = "cardinal") -> str:
    return str(num2words(value, to=to)).replace(" and ", " ").replace("-", " ")


def _digits(digits: str) -> str:
    return " ".join(_spoken(int(d)) for d in digits)


def _number(digits: str) -> str:
    """Digit strings as read aloud: codes digit by digit, years in pairs."""
    value = int(digits)
    if len(digits) >= 5 or (len(digits) > 1 and digits[0] == "0"):
        return _digits(digits)
    if len(digits) == 4 and 1100 <= value <= 2099:
        return _spoken(value, "year")
    return _spoken(value)


def normalize(text: str) -> str:
    """Lower case, no punctuation, contractions expanded, numbers in words."""
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", t)
    t = re.sub(r"\b(\d{1,2}):00\b", r"\1", t)
    t = re.sub(r"\b(\d{1,2}):(\d\d)\b", r"\1 \2", t)
    t = re.sub(r"\d+(?:-\d+)+", lambda m: _digits(m.group().replace("-", "")), t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: _spoken(int(m.group(1)), "ordinal"), t)
    t = re.sub(r"(\d),(\d{3})\b", r"\1\2", t)
    t = re.sub(r"\d+", lambda m: _number(m.group()), t)
    words = []
    for word in re.sub(r"[^a-z' ]+", " ", t).split():
        word = _CONTRACTIONS.get(word, word).replace("'", "")
        words.extend(_WORDS.get(w, w) for w in word.split())
    return " ".join(w for w in words if w)


_ORDINALS = {_spoken(n, "ordinal"): _spoken(n) for n in range(1, 32)}
_ORDINAL = re.compile(r"\b(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\b")


def lenient(normalized: str) -> str:
    """Ordinals read as cardinals ("march third" = "march three"): date
    formatting that a slot parser treats alike is not counted as an error."""
    return _ORDINAL.sub(lambda m: _ORDINALS[m.group()], normalized)


def _errors(reference: str, hypothesis: str) -> int:
    out = jiwer.process_words(reference, hypothesis or "<empty>")
    return int(out.substitutions + out.deletions + out.insertions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="30,15,10",
                        help="encoder windows in seconds, the first is the reference")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--limit", type=int, default=len(UTTERANCES))
    parser.add_argument("--beam", type=int, default=AsrSettings().beam_size_final,
                        help="beam size of the finals")
    parser.add_argument("--mode", choices=("final", "partial"), default="final",
                        help="decode as a final (beam, fallback) or as a partial (greedy)")
    args = parser.parse_args()
    setup_logging()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    out = json_stdout()
    windows = [float(w) for w in args.windows.split(",")]
    voices = args.voices.split(",")
    texts = UTTERANCES[:args.limit]

    started = time.perf_counter()
    corpus: list[tuple[str, str, bytes]] = []
    for voice in voices:
        for text in texts:
            corpus.append((voice, text, telephone(say(text, RATE, **VOICES[voice]))))
    audio_s = sum(len(pcm) / 2 / RATE for _, _, pcm in corpus)
    log.info("synthesized %d utterances, %.0f s of audio, in %.0f s", len(corpus), audio_s,
             time.perf_counter() - started)
    references = [normalize(text) for _, text, _ in corpus]

    results: dict[str, Any] = {}
    hypotheses: dict[float, list[str]] = {}
    for window in windows:
        settings = AsrSettings(window_s=window, partial_window_s=window,
                               beam_size_final=args.beam)
        rec = WhisperRecognizer(settings)
        final = args.mode == "final"
        rec.transcribe_blocking(corpus[0][2], RATE, final=final)  # warm-up
        texts_out, compute, complete = [], [], 0
        for _voice, _text, pcm in corpus:
            ctranslate2.set_random_seed(7)  # temperature fallback samples: repeatable
            result = rec.transcribe_blocking(pcm, RATE, final=final)
            texts_out.append(normalize(result.text))
            complete += looks_complete(result.text)
            compute.append(result.compute_seconds)
        rec.close()
        hypotheses[window] = texts_out
        per_voice = {}
        for voice in voices:
            idx = [i for i, (v, _, _) in enumerate(corpus) if v == voice]
            per_voice[voice] = round(jiwer.wer([references[i] for i in idx],
                                               [texts_out[i] or "<empty>" for i in idx]), 4)
        results[f"{window:g}"] = {
            "wer": round(jiwer.wer(references, [h or "<empty>" for h in texts_out]), 4),
            "wer_lenient": round(jiwer.wer([lenient(r) for r in references],
                                           [lenient(h) or "<empty>" for h in texts_out]), 4),
            "wer_per_voice": per_voice,
            "exact": sum(r == h for r, h in zip(references, texts_out, strict=True)),
            "looks_complete": complete,
            "rtf": round(sum(compute) / audio_s, 4),
            "compute_p50_ms": round(statistics.median(compute) * 1000),
            "compute_p95_ms": round(sorted(compute)[int(0.95 * (len(compute) - 1))] * 1000),
            "compute_max_ms": round(max(compute) * 1000),
        }
        log.info("window %g s: %s", window, results[f"{window:g}"])

    reference = windows[0]
    for window in windows[1:]:
        row = results[f"{window:g}"]
        differ = [i for i, h in enumerate(hypotheses[window]) if h != hypotheses[reference][i]]
        row["utterances_differing_from_reference"] = len(differ)
        errors = [(_errors(references[i], hypotheses[reference][i]),
                   _errors(references[i], hypotheses[window][i])) for i in differ]
        row["utterances_better"] = sum(new < old for old, new in errors)
        row["utterances_worse"] = sum(new > old for old, new in errors)
        row["examples"] = [{"voice": corpus[i][0], "ref": references[i],
                            f"w{reference:g}": hypotheses[reference][i],
                            f"w{window:g}": hypotheses[window][i]} for i in differ[:4]]
    wer_ref = results[f"{reference:g}"]["wer"]
    no_loss = [w for w in windows[1:] if results[f"{w:g}"]["wer"] <= wer_ref]
    lenient_ref = results[f"{reference:g}"]["wer_lenient"]
    no_loss_lenient = [w for w in windows[1:]
                       if results[f"{w:g}"]["wer_lenient"] <= lenient_ref]
    summary = {
        "bench": "asr_wer",
        "model": "bundled tiny.en int8",
        "mode": args.mode,
        "settings": {k: v for k, v in settings.model_dump(mode="json").items()
                     if k in ("beam_size_final", "beam_size_partial", "temperatures",
                              "cpu_threads", "timestamps_after_s", "max_tokens_per_s")},
        "utterances": len(corpus), "voices": voices, "audio_s": round(audio_s, 1),
        "reference_window_s": reference,
        "windows": results,
        "no_loss_windows": no_loss,
        "no_loss_windows_lenient": no_loss_lenient,
        "target_wer_30": TARGET_WER_30,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "pass": wer_ref <= TARGET_WER_30,
    }
    print(json.dumps(summary), file=out, flush=True)
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
