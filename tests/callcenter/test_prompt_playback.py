"""What of a prompt was played: words and seconds up to a barge-in or hang-up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.prompt_playback import PromptPlayback
from tts.sentences import split_sentences

RATE = 8000
AT = datetime(2026, 1, 1, tzinfo=UTC)
TEXT = "Welcome to the clinic. Please say your date of birth after the tone."


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pcm(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def playback(clock: Clock, text: str = TEXT) -> PromptPlayback:
    return PromptPlayback(text, split_sentences(text), RATE, clock)


def test_a_prompt_played_whole_adds_nothing() -> None:
    clock = Clock()
    p = playback(clock)
    p.queued(pcm(1.0))
    p.queued(pcm(2.0))
    heard = p.played(None, None, AT, AT)
    assert (heard.text, heard.cut, heard.played_s, heard.data()) == (TEXT, None, 3.0, {})


def test_barge_in_halfway_through_the_second_sentence_keeps_half_its_words() -> None:
    clock = Clock()
    p = playback(clock)
    p.queued(pcm(1.0))  # plays 100.0-101.0
    clock.now = 100.5
    p.queued(pcm(2.0))  # queued early: plays 101.0-103.0
    heard = p.played("barge_in", 102.0, AT, AT)
    assert heard.text == "Welcome to the clinic. Please say your date"  # 4 of 9 words
    assert heard.played_s == pytest.approx(2.0)
    assert heard.data() == {"cut": "barge_in", "played_s": 2.0, "full_text": TEXT}


def test_a_sentence_synthesized_late_leaves_a_gap_that_is_not_played_audio() -> None:
    clock = Clock()
    p = playback(clock)
    p.queued(pcm(1.0))  # 100-101
    clock.now = 101.5
    p.queued(pcm(2.0))  # 101.5-103.5
    heard = p.played("hangup", 101.6, AT, AT)
    assert heard.played_s == pytest.approx(1.1)
    assert heard.text == "Welcome to the clinic."
    assert heard.cut == "hangup"


def test_cut_before_any_audio_played_keeps_no_words() -> None:
    clock = Clock()
    p = playback(clock)
    heard = p.played("hangup", 100.0, AT, AT)
    assert (heard.text, heard.played_s) == ("", 0.0)
    p.queued(pcm(1.0))
    assert p.played("barge_in", 100.05, AT, AT).text == ""


def test_more_chunks_than_sentences_count_toward_the_last_sentence() -> None:
    clock = Clock()
    text = "One two three four."
    p = PromptPlayback(text, split_sentences(text), RATE, clock)
    p.queued(pcm(1.0))
    p.queued(pcm(1.0))  # the synthesizer cut the sentence in two
    assert p.played("barge_in", 101.0, AT, AT).text == "One two"
    assert p.played("barge_in", 102.0, AT, AT).text == text
