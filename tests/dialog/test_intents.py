"""Intent matching: keywords, phrases, fuzz, negation, spoken option numbers, ties."""

from __future__ import annotations

import pytest

from dialog.intents import AGENT, GLOBAL_INTENTS, REPEAT, FuzzyIntentMatcher, Intent, match_dtmf

MENU = (
    Intent("confirm", keywords=("confirm", "keep"), phrases=("I'll be there", "that works"),
           dtmf="1"),
    Intent("cancel", keywords=("cancel",), phrases=("can't make it", "call it off"), dtmf="2"),
    Intent("reschedule", keywords=("reschedule", "change", "move"),
           phrases=("different day", "another time"), dtmf="3"),
    *GLOBAL_INTENTS,
)
matcher = FuzzyIntentMatcher()


@pytest.mark.parametrize(("text", "intent"), [
    ("confirm", "confirm"),
    ("Yes, I'll be there.", "confirm"),
    ("I'd like to keep it", "confirm"),
    ("cancel please", "cancel"),
    ("I need to cancel my appointment", "cancel"),
    ("I can't make it on Friday", "cancel"),
    ("it's cancelled", "cancel"),
    ("reschedule", "reschedule"),
    ("I'd like to reshedule", "reschedule"),  # ASR slip
    ("rescheduling", "reschedule"),
    ("can we do a different day", "reschedule"),
    ("could I move it", "reschedule"),
    ("I don't want to cancel, I want to reschedule", "reschedule"),
    ("no I don't want to confirm, cancel it", "cancel"),
    ("I don't know, cancel it", "cancel"),
    ("I'd rather not cancel, just move it", "reschedule"),
    ("agent", "agent"),
    ("representative", "agent"),
    ("Representative!", "agent"),
    ("operator please", "agent"),
    ("can I talk to someone", "agent"),
    ("I want to speak to a human", "agent"),
    ("a real person please", "agent"),
    ("reprasentative", "agent"),
    ("say that again", "repeat"),
    ("sorry what was that", "repeat"),
    ("two", "cancel"),
    ("two, two,", "cancel"),  # Whisper's echo of a lone word
    ("option three", "reschedule"),
    ("press 1", "confirm"),
    ("zero", "agent"),
])
def test_utterances_find_their_intent(text: str, intent: str) -> None:
    found = matcher.best(text, MENU)
    assert found is not None, text
    assert found.intent == intent


@pytest.mark.parametrize("text", [
    "", "the weather is lovely", "banana", "hmm", "again", "I'm not sure",
    "four",  # no option 4
    "two three",  # two options
])
def test_unrelated_words_match_nothing(text: str) -> None:
    assert matcher.best(text, MENU) is None


def test_equal_scores_are_ambiguous() -> None:
    intents = (Intent("a", keywords=("apple",)), Intent("b", keywords=("melon",)))
    assert matcher.best("apple melon", intents) is None


def test_scores_rank_best_first() -> None:
    found = matcher.scores("I'd like to reshedule", MENU)
    assert found[0].intent == "reschedule" and 0.8 < found[0].score < 1.0


def test_dtmf_matches_first_key() -> None:
    assert match_dtmf("2#", MENU) == match_dtmf("2", MENU)
    found = match_dtmf("0", MENU)
    assert found is not None and found.intent == AGENT.name
    star = match_dtmf("*", MENU)
    assert star is not None and star.intent == REPEAT.name
    assert match_dtmf("9", MENU) is None


async def test_the_matcher_protocol_is_async() -> None:
    found = await matcher.match("cancel", MENU)
    assert found is not None and found.intent == "cancel"
