"""Yes/no on real evidence: answer words and phrases, never a word that happens to be there."""

from __future__ import annotations

import pytest

from dialog.yes_no import parse_yes_no


@pytest.mark.parametrize("text", [
    "yes", "Yes.", "yes please", "Yes please.", "yeah sure", "Yeah, sure.", "yep", "yup",
    "sure", "sure thing", "of course", "absolutely", "definitely", "certainly",
    "uh huh", "mhm", "uh, yes", "oh yes please", "well yes", "yes sir",
    "that's right", "right", "correct", "that's correct", "okay", "okay go ahead",
    "sure, go ahead", "go ahead", "sounds good", "I think so", "I would", "I do",
    "yes I would", "no problem", "yes, that's right",
    "yes, I'd like to speak with someone", "Yes, I'd like that, thanks.",
])
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", [
    "no", "No.", "nope", "nah", "no no", "No, no.", "no, no, no", "no thanks", "No thank you.",
    "I don't think so", "not really", "Not really, no.", "not at all", "no way",
    "that's not right", "not correct", "that's wrong", "I'd rather not", "not now",
    "no, I'll keep it", "No, sorry.", "um, no", "I'm good, thanks", "negative",
])
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", [
    # Said to "Would you like to speak with the front desk?" by real callers.
    "one moment please", "One moment, please.", "please try again", "Please try again.",
    "sorry you're breaking up", "Sorry, you're breaking up.", "hold on a second",
    "please", "please. Please.", "hello? can you hear me?", "who is this",
    # A yes/no word inside a sentence is no answer.
    "I'm driving right now", "I think I have the wrong number",
    "That is a lot of writing.", "I'm sure all schools would accept that.",
    "Since then physicists have found that it is not reflection but refraction.",
    "This is a very common type of bow, with little or no green or blue.",
    "Seventeen, no, eighteen days ago.", "has never been surpassed",
    "okay, one moment please", "right now I'm busy",
    # Neither, or both.
    "", "maybe", "what", "I'm not sure", "not sure", "yes no", "no, yes",
    "yes, no, wait", "that's it", "hmm",
])
def test_no_answer(text: str) -> None:
    assert parse_yes_no(text) is None
