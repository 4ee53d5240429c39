"""Split text into the sentences that are synthesized (and cached) one by one.

The first audio of a prompt can play once its first sentence is synthesized,
so sentences are the unit of streaming; a long sentence is also cut at a
clause break (";", ":", ",", a dash) so that no piece runs much past
`max_chars` and the caller never waits for a paragraph-long sentence.

A period ends a sentence unless it belongs to a known abbreviation ("Dr.",
"e.g."), an initial ("J. Smith") or a number ("3.14"). Some abbreviations
("etc.", "a.m.", "Inc.") end a sentence only when the next word is
capitalized. A blank line always ends a sentence; a single line break is a space.
"""

from __future__ import annotations

import re

DEFAULT_MAX_CHARS = 200

# Never end a sentence: they precede what they qualify.
_NEVER_END = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "mt", "ft", "gov", "sen",
                        "rep", "capt", "sgt", "lt", "e.g", "i.e", "vs", "no", "ext", "tel",
                        "approx", "apt", "fig", "ste", "a.k.a"})
# End a sentence only when followed by a capitalized word.
_MAY_END = frozenset({"etc", "a.m", "p.m", "inc", "ltd", "corp", "co", "jr", "sr", "u.s",
                      "ave", "blvd", "rd", "ln", "hwy", "dept", "appt"})
_CANDIDATE = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_CLAUSE_BREAK = re.compile(r"(?:[;:,]|\s[-–—])\s")


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """The sentences of `text`, in order, each stripped and at most about
    `max_chars` long; pieces without a letter or digit are dropped."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        for sentence in _sentences(flat):
            out.extend(_cut_long(sentence, max_chars))
    return [s for s in out if any(c.isalnum() for c in s)]


def _sentences(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _CANDIDATE.finditer(text):
        if _is_boundary(text, match):
            pieces.append(text[start:match.end()].strip())
            start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    if not match.group(0).startswith(".") or match.group(0).startswith(".."):
        return True
    before = _WORD_BEFORE.search(text, 0, match.start())
    if before is None:
        return True
    word = before.group(1).lower().rstrip(".")
    initial = len(word) == 1 and word.isalpha() and before.group(1).isupper()
    if word in _NEVER_END or initial:
        return False
    if word in _MAY_END:
        return re.match(r"\s+[\"'(]?[A-Z]", text[match.end():]) is not None
    return True


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """Cut at the last clause break before `max_chars` (not too near the
    start), else at the last space; the text itself is never changed."""
    pieces: list[str] = []
    while len(sentence) > max_chars:
        floor = max_chars // 4
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(sentence, floor, max_chars + 1)]
        cut = breaks[-1] if breaks else sentence.rfind(" ", floor, max_chars + 1) + 1
        if cut <= 0:
            cut = max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence]
