"""Agitation heard in the words: profanity, complaints, demands for a manager.

A signal separate from tone and pace (which ``asr.agitation`` measures on
the raw audio): :func:`word_signal` scores one transcript (English, as
Whisper writes it). An explicit request for a person ("agent",
"representative", "a real person", key 0) is not scored here: it is the
global ``agent`` intent, and the transfer's reason is ``asked`` (or ``dtmf``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRONG_WORDS = (
    r"supervisor", r"manager", r"lawyers?", r"attorney",
    r"fuck\w*", r"shit\w*", r"bullshit", r"damn\w*", r"crap", r"bloody", r"hell",
    r"ass(hole)?", r"bastards?", r"idiots?", r"screw (this|you|it)")
COMPLAINT_WORDS = (
    r"complaint", r"complain(ing)?", r"ridiculous", r"unacceptable", r"useless",
    r"stupid", r"fed up", r"sick of", r"waste of (my )?time",
    r"joke", r"outrageous", r"furious", r"angry", r"(third|fourth|fifth) time",
    r"(nobody|no one) (ever )?(helps|listens)")
_STRONG = re.compile(r"\b(" + "|".join(STRONG_WORDS) + r")\b", re.IGNORECASE)
_COMPLAINT = re.compile(r"\b(" + "|".join(COMPLAINT_WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class WordSignal:
    """Agitation heard in the words: ``score`` in 0..1 and the words behind it."""

    score: float
    hits: tuple[str, ...]


NO_WORDS = WordSignal(0.0, ())


def word_signal(text: str) -> WordSignal:
    """Score a transcript for agitation words.

    Profanity and asking for a supervisor, a manager or a lawyer count 1.0;
    each complaint word ("complaint", "ridiculous", "third time", ...) 0.5;
    the sum is capped at 1. Words a patient may use about their health
    ("terrible", "awful") are left out on purpose, and so are names that
    look like words ("Sue").
    """
    if not text:
        return NO_WORDS
    strong = [m.group(0).lower() for m in _STRONG.finditer(text)]
    weak = [m.group(0).lower() for m in _COMPLAINT.finditer(text)]
    return WordSignal(score=min(1.0, len(strong) + 0.5 * len(weak)), hits=tuple(strong + weak))
