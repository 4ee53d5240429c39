"""What the conversation keeps of a prompt: whole, cut by a key (barge-in), cut by a
hang-up; and how a held call pauses it (prompt and no-input clock).

A fake call plays each queued chunk in real time (short chunks keep the test
fast) and hands over the caller frames a test puts in its inbox; a fake
synthesizer yields one chunk per sentence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from callcenter.conversation import CallConversation
from callcenter.core.errors import CallGone
from callcenter.core.listening import EndpointerConfig
from dialog.ports import InputKind, ListenSettings
from tests.asr.speech import frames, say
from tests.support.fake_call import FakeCall, conversation_on_a_fake_call

RATE = 8000
SENTENCE_S = 0.3
TEXT = "Welcome to the clinic. Please say your date of birth. Or press zero."


@pytest.fixture
async def talk() -> AsyncIterator[tuple[CallConversation, FakeCall]]:
    async with conversation_on_a_fake_call(RATE, SENTENCE_S) as both:
        yield both


async def test_a_prompt_played_whole_is_kept_as_said(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, _ = talk
    await conversation.say(TEXT, barge_in=True)
    heard = conversation.take_prompt(TEXT)
    assert heard is not None
    assert (heard.text, heard.cut, heard.data()) == (TEXT, None, {})
    assert heard.played_s == pytest.approx(3 * SENTENCE_S)
    assert conversation.take_prompt() is None  # taken once


async def test_a_key_cuts_the_prompt_and_only_what_played_is_kept(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=True))
    await asyncio.sleep(SENTENCE_S * 1.5)  # halfway through the second sentence
    call.dtmf.put_nowait("1")
    await asyncio.wait_for(saying, 2)
    heard = conversation.take_prompt(TEXT)
    assert heard is not None and heard.cut == "barge_in"
    assert heard.played_s == pytest.approx(SENTENCE_S * 1.5, abs=0.1)
    assert heard.text.startswith("Welcome to the clinic. Please")
    assert "birth" not in heard.text
    assert heard.data() == {"cut": "barge_in", "played_s": round(heard.played_s, 2),
                            "full_text": TEXT}


async def test_a_hang_up_cuts_the_prompt_and_it_is_still_kept(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=False))
    await asyncio.sleep(SENTENCE_S * 0.5)
    call.hang_up()
    with pytest.raises(CallGone):
        await asyncio.wait_for(saying, 2)
    heard = conversation.take_prompt()
    assert heard is not None and heard.cut == "hangup"
    assert heard.played_s == pytest.approx(SENTENCE_S * 0.5, abs=0.1)
    assert heard.text in ("Welcome", "Welcome to", "Welcome to the")
    assert heard.data()["full_text"] == TEXT


async def test_a_voice_that_barged_in_is_not_talked_over_by_the_next_prompt(
        talk: tuple[CallConversation, FakeCall]) -> None:
    """A "say, then go on" state: the caller's answer stopped its prompt; the
    next state's prompt must not start over them while they go on."""
    conversation, call = talk
    voice = frames(say("Yes, I would like that very much, thank you.", RATE), RATE)
    loud = [np.abs(np.frombuffer(f, dtype="<i2")).max() > 2000 for f in voice]
    speech = voice[loud.index(True):]  # from its onset
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=True))
    await asyncio.sleep(SENTENCE_S * 0.5)
    for frame in speech[:15]:  # 300 ms of voice: the barge-in signal
        conversation.stream.feed(frame)
    await asyncio.wait_for(saying, 2)
    first = conversation.take_prompt(TEXT)
    assert first is not None and first.cut == "barge_in"

    await asyncio.wait_for(conversation.say("Please say yes or no.", barge_in=True), 0.1)
    yielded = conversation.take_prompt()
    assert yielded is not None and (yielded.cut, yielded.played_s) == ("barge_in", 0.0)

    silence = bytes(2 * RATE // 50)
    for frame in speech[15:]:
        conversation.stream.feed(frame)
    ended = False
    for _ in range(75):  # up to 1.5 s of silence: the utterance ends in it
        conversation.stream.feed(silence)
        if not conversation.stream.in_speech:
            ended = True
            break
    # The very frame that ended the utterance: the voice is no longer on.
    assert ended and not conversation.stream.caller_talking
    await conversation.say("Please say yes or no.", barge_in=True)
    whole = conversation.take_prompt()
    assert whole is not None and whole.cut is None  # a voice that has stopped: played


# --- a held call -------------------------------------------------------------------------

async def test_a_hold_stops_the_prompt_which_plays_again_once_the_call_is_back(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=False))
    await asyncio.sleep(SENTENCE_S * 1.5)
    call.set_hold(True)
    started = call.chunks_started
    await asyncio.sleep(SENTENCE_S * 4)  # longer than the rest of the prompt
    assert not saying.done()  # it waits for the caller ...
    assert call.chunks_started == started  # ... and plays nothing into the held call
    call.set_hold(False)
    await asyncio.wait_for(saying, 3)
    heard = conversation.take_prompt(TEXT)
    assert heard is not None and (heard.text, heard.cut) == (TEXT, None)  # the replay, whole
    assert call.chunks_started == started + 3


async def test_a_prompt_while_on_hold_waits_and_a_hang_up_on_hold_ends_the_call(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    call.set_hold(True)
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=True))
    await asyncio.sleep(SENTENCE_S * 2)
    assert not saying.done() and call.chunks_started == 0
    call.hang_up()
    with pytest.raises(CallGone):
        await asyncio.wait_for(saying, 2)


async def test_a_hang_up_on_hold_keeps_the_prompt_cut_by_the_hold(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    saying = asyncio.create_task(conversation.say(TEXT, barge_in=True))
    await asyncio.sleep(SENTENCE_S * 0.5)
    call.set_hold(True)
    await asyncio.sleep(SENTENCE_S)
    call.hang_up()
    with pytest.raises(CallGone):
        await asyncio.wait_for(saying, 2)
    heard = conversation.take_prompt()
    assert heard is not None and heard.cut == "hold"
    assert heard.played_s == pytest.approx(SENTENCE_S * 0.5, abs=0.1)


async def test_no_input_time_stops_on_hold_and_starts_over_when_the_call_is_back(
        talk: tuple[CallConversation, FakeCall]) -> None:
    """Frames keep coming while held (music on hold, or silence): none of it
    is heard, and the turn's whole no-input time starts again on resume."""
    conversation, call = talk
    timeout_ms, frame_ms = 400, 20
    settings = ListenSettings(EndpointerConfig(no_input_timeout_ms=timeout_ms))
    voice = frames(say("Hello there, this is music on hold.", RATE), RATE)
    silence = bytes(2 * RATE * frame_ms // 1000)

    async def send(chunk: list[bytes]) -> None:
        for frame in chunk:
            call.inbox.put_nowait(frame)
        while not call.inbox.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the pump has fed the last one

    listening = asyncio.create_task(conversation.listen((), settings))
    await send([silence] * (timeout_ms // frame_ms // 2))  # half the time passes
    call.set_hold(True)
    await send([silence] * (3 * timeout_ms // frame_ms) + voice)
    assert not listening.done()  # nothing heard on hold, and no no-input
    call.set_hold(False)
    await send([silence] * (timeout_ms // frame_ms * 3 // 4))
    assert not listening.done()  # more than the half that was left: the time restarted
    await send([silence] * (timeout_ms // frame_ms // 2))
    heard = await asyncio.wait_for(listening, 2)
    assert heard.kind == InputKind.NO_INPUT
