"""Yes or no, only on real evidence: an answer word, not a word that happens to be there.

    parse_yes_no("yeah sure")                  -> True
    parse_yes_no("no, I'll keep it")           -> False
    parse_yes_no("I don't think so")           -> False
    parse_yes_no("one moment please")          -> None   (no answer in it)
    parse_yes_no("it is not reflection, ...")  -> None   ("not" inside a sentence)

An utterance is cut into cues (answer words and phrases, the longest first:
"no problem" is a yes, "not really" a no), fillers ("um", "please",
"thanks", "sir") and content (every other word). It is an answer when

- it holds nothing but cues and fillers ("yes please", "that's right",
  "no no", "I don't think so", "okay go ahead"), and the cues agree; or
- it opens (after "um", "oh", "well" ...) with a strong cue and goes on with
  other words ("yes, I'd like that", "no, I'll keep it"), and no strong cue
  of the other side follows ("yes ... no" is no answer).

Weak cues ("right", "okay", "fine", "wrong", "never", "I do" ...) are
answers only on their own: "I'm driving right now" and "has never been
surpassed" are not. Similarity never counts: a slip that Whisper makes
("yet" for "yes") is no evidence, and its hints keep such slips rare.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialog.numbers import tokenize

_STRONG_YES = ("yes", "yeah", "yea", "yep", "yup", "ya", "yah", "yes sir", "sure", "absolutely",
               "definitely", "certainly", "affirmative", "of course", "uh huh", "mhm",
               "mm hmm", "please do", "no problem", "no doubt", "sure thing")
_WEAK_YES = ("right", "that's right", "that is right", "correct", "that's correct",
             "that is correct", "exactly", "ok", "okay", "alright", "all right", "fine",
             "perfect", "true", "confirm", "confirmed", "go ahead", "do it", "sounds good",
             "that works", "that's fine", "i do", "i would", "i will", "i'd like that",
             "i'd love that", "i would like that", "i think so", "i guess so", "why not",
             "let's do it", "yes i would", "yes i do", "i'd like to", "i would like to")
_STRONG_NO = ("no", "nope", "nah", "negative", "no thanks", "no thank you", "not really",
              "not at all", "no way", "absolutely not", "definitely not", "certainly not",
              "of course not", "i don't think so", "i do not think so", "no sir")
_WEAK_NO = ("not", "never", "wrong", "incorrect", "that's wrong", "that's not right",
            "that is not right", "not right", "not correct", "that's not correct",
            "that is not correct", "not now", "not today", "not yet", "not right now",
            "i don't", "i do not", "i don't want to", "i would not", "i wouldn't",
            "i'd rather not", "rather not", "don't", "do not", "please don't",
            "no it's not", "it's not", "it is not", "that's not it", "not interested",
            "i'm not interested", "i'm good", "i'm fine", "i'm okay")
_LEADING_FILLERS = frozenset({"um", "umm", "uh", "er", "erm", "ah", "oh", "well", "hmm", "mm",
                              "so", "and", "hey"})
_FILLERS = _LEADING_FILLERS | frozenset({"please", "thanks", "thank", "you", "sir", "ma'am",
                                         "maam", "madam", "then", "just", "i", "think",
                                         "guess", "it", "that", "really"})

# phrase (as a word tuple) -> (answer, strong)
_CUES: dict[tuple[str, ...], tuple[bool, bool]] = {}
for _phrases, _answer, _strong in ((_STRONG_YES, True, True), (_WEAK_YES, True, False),
                                    (_STRONG_NO, False, True), (_WEAK_NO, False, False)):
    for _phrase in _phrases:
        _CUES[tuple(tokenize(_phrase))] = (_answer, _strong)
_LONGEST = max(len(words) for words in _CUES)


@dataclass(frozen=True)
class _Piece:
    """A cue (with its answer and strength), a filler or a content word."""

    kind: str  # "cue", "filler" or "content"
    word: str
    answer: bool = False
    strong: bool = False


def _cut(words: list[str]) -> list[_Piece]:
    """The utterance as cues (the longest phrase first), fillers and content words."""
    pieces: list[_Piece] = []
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            cue = _CUES.get(tuple(words[i:i + size]))
            if cue is not None:
                pieces.append(_Piece("cue", " ".join(words[i:i + size]), *cue))
                i += size
                break
        else:
            pieces.append(_Piece("filler" if words[i] in _FILLERS else "content", words[i]))
            i += 1
    return pieces


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when `text` is no answer (or both)."""
    pieces = _cut(tokenize(text))
    cues = [p for p in pieces if p.kind == "cue"]
    if not cues:
        return None
    if all(p.kind != "content" for p in pieces):
        answers = {p.answer for p in cues}
        return answers.pop() if len(answers) == 1 else None
    opening = next((p for p in pieces
                    if not (p.kind == "filler" and p.word in _LEADING_FILLERS)), None)
    if opening is None or opening.kind != "cue" or not opening.strong:
        return None
    if any(p.strong and p.answer != opening.answer for p in cues):
        return None
    return opening.answer
