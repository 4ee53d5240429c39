"""What the conversation keeps of a prompt: whole, cut by a key (barge-in), cut by a hang-up.

A fake call plays each queued chunk in real time (short chunks keep the test
fast); a fake synthesizer yields one chunk per sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from asr.settings import AsrSettings
from callcenter.conversation import CallConversation
from callcenter.core.errors import CallGone
from callcenter.core.speech import Transcript
from tests.asr.speech import frames, say

RATE = 8000
SENTENCE_S = 0.3
TEXT = "Welcome to the clinic. Please say your date of birth. Or press zero."


class FakeCall:
    """Plays queued chunks one after another in real time; `stop_audio` and
    a hang-up drop what is queued (the futures say False)."""

    def __init__(self) -> None:
        self.id = "c" * 32
        self.media = SimpleNamespace(clock_rate=RATE)
        self.ended: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self._queue: list[tuple[float, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._player = asyncio.get_running_loop().create_task(self._play())

    def play(self, pcm: bytes) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((len(pcm) / 2 / RATE, done))
        self._wake.set()
        return done

    def stop_audio(self) -> None:
        queued, self._queue = self._queue, []
        for _, done in queued:
            if not done.done():
                done.set_result(False)

    def hang_up(self) -> None:
        self.stop_audio()
        self.ended.set_result(None)

    async def frames(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    async def _play(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                seconds, done = self._queue[0]
                await asyncio.sleep(seconds)
                if self._queue and self._queue[0][1] is done:
                    self._queue.pop(0)
                    done.set_result(True)

    async def close(self) -> None:
        self._player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._player


class FakeRecognizer:
    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        return None


class FakeSynthesizer:
    """One chunk of SENTENCE_S seconds per sentence."""

    async def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        for _ in text.split(". "):
            yield bytes(int(SENTENCE_S * rate) * 2)


@pytest.fixture
async def talk() -> AsyncIterator[tuple[CallConversation, FakeCall]]:
    call = FakeCall()
    conversation = CallConversation(call, FakeRecognizer(), FakeSynthesizer(),  # type: ignore[arg-type]
                                    AsrSettings())
    await conversation.start()
    try:
        yield conversation, call
    finally:
        await conversation.close()
        await call.close()


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
