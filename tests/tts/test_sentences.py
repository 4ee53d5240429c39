"""Sentence splitting: abbreviations kept whole, long sentences cut at clauses."""

from __future__ import annotations

import pytest

from tts.sentences import split_sentences


@pytest.mark.parametrize(("text", "sentences"), [
    ("Hello. How are you? Fine!", ["Hello.", "How are you?", "Fine!"]),
    ("Dr. Smith will see you. Bye.", ["Dr. Smith will see you.", "Bye."]),
    ("Mr. and Mrs. Jones are here.", ["Mr. and Mrs. Jones are here."]),
    ("Visit St. Louis. Then go.", ["Visit St. Louis.", "Then go."]),
    ("Bring apples, e.g. red ones. Thanks.", ["Bring apples, e.g. red ones.", "Thanks."]),
    ("Apples, pears, etc. Then go.", ["Apples, pears, etc.", "Then go."]),
    ("Apples, pears, etc. and more.", ["Apples, pears, etc. and more."]),
    ("Come at 9 a.m. tomorrow.", ["Come at 9 a.m. tomorrow."]),
    ("Come at 9 a.m. Bring a pen.", ["Come at 9 a.m.", "Bring a pen."]),
    ("J. R. Smith called.", ["J. R. Smith called."]),
    ("Pi is 3.14. Really.", ["Pi is 3.14.", "Really."]),
    ("It costs 5. Then 6.", ["It costs 5.", "Then 6."]),
    ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ("Wait... what?", ["Wait...", "what?"]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("No period at the end", ["No period at the end"]),
    ("one line\ncontinues here.", ["one line continues here."]),
    ("First paragraph\n\nSecond one.", ["First paragraph", "Second one."]),
    ("  ...  ", []),
    ("", []),
])
def test_split(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_long_sentence_is_cut_at_clause_breaks() -> None:
    clause = "we will call you back as soon as an agent is free"
    text = ", ".join([clause] * 8) + "."
    pieces = split_sentences(text, max_chars=120)
    assert len(pieces) > 1
    assert all(len(p) <= 120 for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == text  # nothing lost or changed


def test_long_sentence_without_clauses_is_cut_at_spaces() -> None:
    text = " ".join(["word"] * 100)
    pieces = split_sentences(text, max_chars=50)
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces) == text


def test_short_sentences_are_not_cut() -> None:
    text = "Your appointment, as you know, is tomorrow; please be on time."
    assert split_sentences(text) == [text]
