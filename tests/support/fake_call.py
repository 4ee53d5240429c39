"""Fakes of what a conversation talks to: the parts of :class:`sip.call.SipCall`
it uses, a recognizer that hears no words, a synthesizer of silent sentences.

    call = FakeCall(rate=8000)
    call.inbox.put_nowait(frame)        # the caller's audio, 20 ms frames
    call.dtmf.put_nowait("1")           # a key
    call.set_hold(True)                 # the peer holds the call (as SipCall reports it)
    call.refer_outcome.set_result(603)  # the pending REFER's final NOTIFY
    call.hang_up()

It plays queued chunks one after another in real time (short chunks keep a
test fast) and counts what began to play, and what of it was ringback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from types import SimpleNamespace
from typing import Any

from asr.settings import AsrSettings
from callcenter.conversation import CallConversation
from callcenter.core.errors import CallGone
from callcenter.core.speech import Transcript


class FakeCall:
    """Plays queued chunks one after another in real time; `stop_audio` and
    a hang-up drop what is queued (the futures say False)."""

    def __init__(self, rate: int = 8000) -> None:
        self.id = "c" * 32
        self.rate = rate
        self.media = SimpleNamespace(clock_rate=rate)
        self.info = SimpleNamespace(from_uri="sip:+15550001111@127.0.0.1")
        self.refers: list[str] = []  # REFER targets, in order
        self.refer_outcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.played: list[bytes] = []  # every chunk that began to play
        self.ended: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()  # the caller's frames
        self.on_hold = False
        self.chunks_started = 0  # chunks that began to play
        self._hold_listeners: list[Callable[[bool], None]] = []
        self._queue: list[tuple[float, asyncio.Future[bool]]] = []
        self._pcm: dict[int, bytes] = {}
        self._wake = asyncio.Event()
        self._player = asyncio.get_running_loop().create_task(self._play())

    def play(self, pcm: bytes) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((len(pcm) / 2 / self.rate, done))
        self._pcm[id(done)] = pcm
        self._wake.set()
        return done

    def stop_audio(self) -> None:
        queued, self._queue = self._queue, []
        for _, done in queued:
            if not done.done():
                done.set_result(False)

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    def hang_up(self) -> None:
        self.stop_audio()
        self.ended.set_result(None)

    def watch_hold(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        self._hold_listeners.append(listener)
        return lambda: None

    def set_hold(self, held: bool) -> None:
        """The peer puts the call on hold or takes it back (as SipCall reports it)."""
        self.on_hold = held
        for listener in self._hold_listeners:
            listener(held)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.inbox.get()

    async def _play(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                seconds, done = self._queue[0]
                self.chunks_started += 1
                self.played.append(self._pcm.pop(id(done), b""))
                await asyncio.sleep(seconds)
                if self._queue and self._queue[0][1] is done:
                    self._queue.pop(0)
                    done.set_result(True)

    async def transfer(self, target: str) -> int:
        """A REFER: its final NOTIFY's code, once the test sets :attr:`refer_outcome`."""
        self.refers.append(target)
        ended: asyncio.Future[Any] = self.ended
        await asyncio.wait({self.refer_outcome, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not self.refer_outcome.done():
            raise CallGone("the caller hung up")
        return self.refer_outcome.result()

    async def close(self) -> None:
        self._player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._player


class FakeRecognizer:
    """Hears no words in anything."""

    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        return None


class FakeSynthesizer:
    """One chunk of silence `sentence_s` long per sentence (split at ". ")."""

    def __init__(self, sentence_s: float) -> None:
        self.sentence_s = sentence_s

    async def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        for _ in text.split(". "):
            yield bytes(int(self.sentence_s * rate) * 2)


@contextlib.asynccontextmanager
async def conversation_on_a_fake_call(rate: int, sentence_s: float
                                      ) -> AsyncIterator[tuple[CallConversation, FakeCall]]:
    """A started :class:`CallConversation` over a :class:`FakeCall`, closed after."""
    call = FakeCall(rate)
    conversation = CallConversation(call, FakeRecognizer(),  # type: ignore[arg-type]
                                    FakeSynthesizer(sentence_s), AsrSettings())
    await conversation.start()
    try:
        yield conversation, call
    finally:
        await conversation.close()
        await call.close()
