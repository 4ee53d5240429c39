"""Intents: what the caller wants, matched from their words or keys.

An `Intent` lists keywords (single words, found anywhere, fuzzily, with
their inflections: "cancel" matches "cancelled") and phrases (word
sequences, matched fuzzily against same-length stretches of the utterance).
`FuzzyIntentMatcher` scores them with rapidfuzz so recognizer slips
("reshedule") still land. Anything that maps words to an intent name can take
its place through the `IntentMatcher` protocol (a semantic matcher, say); it
is async so such a matcher can run a model off the event loop.

Two intents hold in every state: `AGENT` ("agent", "representative",
"operator", ..., DTMF 0) and `REPEAT` ("say that again", DTMF *).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from dialog.numbers import UNITS, tokenize

_NEGATORS = frozenset({"not", "don't", "dont", "never", "doesn't", "won't", "can't", "cannot"})
# Words that may stand between a negation and what it negates.
_BRIDGES = frozenset({"want", "wanna", "to", "need", "like", "going", "gonna", "i", "really",
                      "the", "my", "it"})
_SUFFIXES = ("s", "es", "d", "ed", "ing", "led", "ling")
_OPTION_FILLERS = frozenset({"option", "number", "press", "pressing", "pressed", "choice", "the",
                             "um", "uh", "i'll", "take", "choose", "select", "please", "okay"})


@dataclass(frozen=True)
class Intent:
    """Something a caller may want in a state, with the ways of saying it."""

    name: str
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    dtmf: str | None = None


@dataclass(frozen=True)
class IntentMatch:
    """The intent a turn was matched to: `score` in 0..1, `evidence` what matched."""

    intent: str
    score: float
    evidence: str


AGENT = Intent(
    "agent",
    keywords=("agent", "representative", "operator", "human", "person", "receptionist"),
    phrases=("talk to someone", "speak to someone", "speak with someone", "real person",
             "customer service", "front desk"),
    dtmf="0",
)
REPEAT = Intent(
    "repeat",
    keywords=("repeat",),
    phrases=("say that again", "say again", "come again", "what was that", "one more time",
             "didn't catch that", "pardon"),
    dtmf="*",
)
GLOBAL_INTENTS: tuple[Intent, ...] = (AGENT, REPEAT)


class IntentMatcher(Protocol):
    """Maps one utterance to at most one of the offered intents."""

    async def match(self, text: str, intents: Sequence[Intent]) -> IntentMatch | None:
        """The best intent for `text`, or None when none fits well or two fit equally."""


def match_dtmf(keys: str, intents: Sequence[Intent]) -> IntentMatch | None:
    """The intent whose DTMF key is the first key pressed."""
    first = keys[:1]
    for intent in intents:
        if first and intent.dtmf == first:
            return IntentMatch(intent.name, 1.0, f"dtmf {first}")
    return None


class FuzzyIntentMatcher:
    """Keyword and phrase matching with rapidfuzz similarity, tolerant of ASR slips.

    `keyword_threshold` and `phrase_threshold` are rapidfuzz ratios (0-100) a
    word or stretch must reach. A keyword or phrase directly preceded by a
    negation ("I don't want to cancel") does not count. When the two best
    intents score the same, the turn is ambiguous and nothing matches. A caller
    saying just an option's number ("two", "option 3") picks the intent with
    that DTMF key (said twice, "two, two", too).
    """

    def __init__(self, *, keyword_threshold: float = 85.0,
                 phrase_threshold: float = 82.0) -> None:
        self.keyword_threshold = keyword_threshold
        self.phrase_threshold = phrase_threshold

    async def match(self, text: str, intents: Sequence[Intent]) -> IntentMatch | None:
        """See `best`; async to satisfy `IntentMatcher`."""
        return self.best(text, intents)

    def best(self, text: str, intents: Sequence[Intent]) -> IntentMatch | None:
        """The best-scoring intent for `text`, or None (no match or a tie)."""
        words = tokenize(text)
        by_number = self._spoken_option(words, intents)
        if by_number is not None:
            return by_number
        ranked = sorted(
            (m for m in (self._score(words, intent) for intent in intents) if m is not None),
            key=lambda m: (m.score, len(m.evidence)), reverse=True)
        if not ranked:
            return None
        top = ranked[0]
        if len(ranked) > 1 and (ranked[1].score, len(ranked[1].evidence)) == (
                top.score, len(top.evidence)):
            return None
        return top

    def scores(self, text: str, intents: Sequence[Intent]) -> list[IntentMatch]:
        """Every intent that matches `text`, best first (for diagnostics and tests)."""
        words = tokenize(text)
        found = [m for m in (self._score(words, intent) for intent in intents) if m]
        return sorted(found, key=lambda m: m.score, reverse=True)

    @staticmethod
    def _spoken_option(words: list[str], intents: Sequence[Intent]) -> IntentMatch | None:
        rest = [w for w in words if w not in _OPTION_FILLERS]
        if not rest or any(w != rest[0] for w in rest):  # "two", "two, two"
            return None
        key = str(UNITS[rest[0]]) if rest[0] in UNITS else rest[0]
        found = match_dtmf(key, intents) if len(key) == 1 else None
        return IntentMatch(found.intent, 1.0, rest[0]) if found else None

    def _score(self, words: list[str], intent: Intent) -> IntentMatch | None:
        best: IntentMatch | None = None
        for keyword in intent.keywords:
            target = keyword.lower()
            if " " in target:
                score = self._phrase_score(words, target)
            else:
                score = max((self._word_score(target, words, i) for i in range(len(words))),
                            default=0.0)
            if score and (best is None or score > best.score):
                best = IntentMatch(intent.name, score, keyword)
        for phrase in intent.phrases:
            score = self._phrase_score(words, " ".join(tokenize(phrase)))
            if score and (best is None or score > best.score):
                best = IntentMatch(intent.name, score, phrase)
        return best

    def _word_score(self, keyword: str, words: list[str], i: int) -> float:
        word = words[i]
        if _negated(words, i):
            return 0.0
        if word == keyword:
            return 1.0
        if len(keyword) >= 4 and _inflects(keyword, word):
            return 0.95
        if len(keyword) <= 3 or len(word) < 3:
            return 0.0
        ratio = fuzz.ratio(keyword, word)
        return ratio / 100 * 0.9 if ratio >= self.keyword_threshold else 0.0

    def _phrase_score(self, words: list[str], phrase: str) -> float:
        size = len(phrase.split())
        best = 0.0
        for width in {max(1, size - 1), size, size + 1}:
            for i in range(len(words) - width + 1):
                if _negated(words, i):
                    continue
                window = " ".join(words[i:i + width])
                ratio = 100.0 if window == phrase else fuzz.ratio(phrase, window)
                if ratio >= self.phrase_threshold:
                    best = max(best, 1.0 if ratio == 100 else ratio / 100 * 0.9)
        return best


def _inflects(keyword: str, word: str) -> bool:
    """True when `word` is `keyword` inflected: cancels, cancelled, moving, rescheduled."""
    stems = (keyword, keyword[:-1]) if keyword.endswith("e") else (keyword,)
    return any(word == stem + suffix for stem in stems for suffix in _SUFFIXES)


def _negated(words: list[str], i: int) -> bool:
    """True when `words[i]` is negated: "not cancel", "don't want to cancel"."""
    for word in reversed(words[max(0, i - 4):i]):
        if word in _NEGATORS:
            return True
        if word not in _BRIDGES:
            return False
    return False
