"""A callee asking not to be called again, only on real evidence.

    asks_opt_out("stop")                               -> True
    asks_opt_out("Stop calling me, please.")           -> True
    asks_opt_out("please take me off your list")       -> True
    asks_opt_out("don't call me again")                -> True
    asks_opt_out("I'll stop by on Tuesday")            -> False  (content around "stop")
    asks_opt_out("don't stop")                         -> False
    asks_opt_out("can you call me back tomorrow")      -> False

On an outbound campaign call the opt-out ends the call and puts the number
on the company's do-not-call list for good, so a word that merely happens to
be there is no evidence. Two kinds of cue (phrases, the longest first):

- strong cues say it whatever surrounds them: "stop calling", "don't call
  me", "do not call", "remove me", "remove my number", "take me off",
  "unsubscribe", "opt out", "no more calls", "leave me alone". One is enough
  unless a negation ("don't", "do not", "never") comes right before it
  ("please don't remove me");
- the weak cue "stop" (and "stop it", "stop this") is an opt-out only when
  the utterance holds nothing else but fillers ("stop", "stop please",
  "oh stop it", "stop stop").

Similarity never counts: a word Whisper slipped on is no opt-out. Key
presses are the campaign's business (``OPT_OUT_KEY``).
"""

from __future__ import annotations

from dialog.numbers import tokenize

#: The key that opts a callee out of a campaign's calls at any point of the call.
OPT_OUT_KEY = "9"

_STRONG = ("stop calling", "stop calling me", "stop call", "quit calling", "don't call",
           "dont call", "do not call", "don't call me", "do not call me", "never call",
           "never call me", "remove me", "remove my number", "remove this number",
           "take me off", "take my number off", "put me on your do not call list",
           "do not call list", "don't call list", "unsubscribe", "opt out", "opt me out",
           "no more calls", "leave me alone", "stop these calls", "stop the calls",
           "not call me again", "not to be called")
_WEAK = ("stop", "stop it", "stop this", "stop that", "please stop")
_NEGATIONS = frozenset({"don't", "dont", "do not", "never", "not", "please don't"})
_FILLERS = frozenset({"um", "umm", "uh", "er", "erm", "ah", "oh", "well", "hmm", "mm", "so",
                      "and", "hey", "please", "just", "now", "thanks", "thank", "you",
                      "okay", "ok", "yes", "yeah", "no", "sir", "ma'am", "maam"})

_CUES: dict[tuple[str, ...], bool] = {}  # phrase -> strong
for _phrases, _strong in ((_WEAK, False), (_STRONG, True)):
    for _phrase in _phrases:
        _CUES[tuple(tokenize(_phrase))] = _strong
_NEGATION_WORDS = {tuple(tokenize(n)) for n in _NEGATIONS}
_LONGEST = max(len(words) for words in _CUES)


def asks_opt_out(text: str) -> bool:
    """True when ``text`` (one recognized utterance) asks not to be called again."""
    words = tokenize(text)
    weak = False
    content = False
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            strong = _CUES.get(tuple(words[i:i + size]))
            if strong is None:
                continue
            if strong and not _negated(words, i):
                return True
            weak = weak or (not strong and not _negated(words, i))
            content = content or strong  # a negated strong cue is content
            i += size
            break
        else:
            content = content or words[i] not in _FILLERS
            i += 1
    return weak and not content


def _negated(words: list[str], at: int) -> bool:
    """A negation ("don't", "do not", "never") right before ``words[at]``."""
    return any(tuple(words[max(0, at - len(n)):at]) == n for n in _NEGATION_WORDS)
