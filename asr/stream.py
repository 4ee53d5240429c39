"""One call's listening: frames in, speech events and transcripts out.

An :class:`UtteranceStream` is fed the caller's 20 ms frames on the event
loop (:meth:`UtteranceStream.feed`, synchronous and cheap: webrtcvad and
the endpointer cost microseconds) and yields, in order::

    VoiceOnset      a short burst of voice: the fast barge-in signal
    SpeechStarted   confirmed speech (an utterance is under way)
    Partial         a hypothesis while the caller speaks (may be skipped)
    Final           one per utterance, with its audio length and timing
    NoInput         the turn's no-input timeout passed

Recognition runs in the recognizer's worker pool. Partials are requested
every ``partial_interval_ms`` while the caller speaks (one at a time per
stream), and once more when the caller pauses for ``pause_probe_ms``: that
last partial tells the endpointer whether the answer looks finished
(:func:`asr.endpointing.looks_complete`), which picks the short or the
long end silence. A partial-based hint holds only while the caller stays
silent; the dialog may instead set its own with
:meth:`UtteranceStream.set_complete_hint`.

Each dialog state calls :meth:`UtteranceStream.listen` with its endpointing
and hints (expected answers, names); :meth:`UtteranceStream.reconfigure`
changes them without starting a new turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from asr.endpointing import (
    Endpointer,
    EndpointerConfig,
    NoInput,
    SpeechStarted,
    UtteranceEnded,
    VoiceOnset,
    looks_complete,
)
from asr.settings import AsrSettings
from asr.vad import VoiceActivityDetector
from callcenter.core.speech import Recognizer, Transcript

log = logging.getLogger(__name__)

__all__ = ["Final", "NoInput", "Partial", "SpeechStarted", "StreamEvent", "UtteranceStream",
           "VoiceOnset"]


@dataclass(frozen=True)
class Partial:
    """A hypothesis for the utterance in progress (number `utterance`)."""

    transcript: Transcript
    utterance: int


@dataclass(frozen=True)
class Final:
    """The transcript of a whole utterance.

    `onset_ms` and `end_ms` are stream times (audio fed so far); `latency_s`
    runs from the end of the utterance being detected to this event.
    """

    transcript: Transcript
    utterance: int
    audio_seconds: float
    speech_ms: int
    onset_ms: int
    end_ms: int
    latency_s: float
    reason: Literal["silence", "max_length"]


StreamEvent = VoiceOnset | SpeechStarted | Partial | Final | NoInput


class FrameClassifier(Protocol):
    """What the stream needs from a VAD (tests script one)."""

    def is_speech(self, frame: bytes) -> bool: ...


_CLOSED = object()


class UtteranceStream:
    """VAD, endpointing and streaming recognition for one call's audio."""

    def __init__(self, recognizer: Recognizer, rate: int, *,
                 config: EndpointerConfig | None = None,
                 vad: FrameClassifier | None = None, vad_aggressiveness: int = 2,
                 frame_ms: int = 20, partial_interval_ms: int = 600,
                 pause_probe_ms: int = 200, max_events: int = 64) -> None:
        self.rate = rate
        self._recognizer = recognizer
        self._vad = vad or VoiceActivityDetector(rate, aggressiveness=vad_aggressiveness,
                                                 frame_ms=frame_ms)
        self._endpointer = Endpointer(config, frame_ms=frame_ms)
        self._partial_interval_ms = partial_interval_ms
        self._pause_probe_ms = pause_probe_ms
        self._hints: tuple[str, ...] = ()
        self._events: asyncio.Queue[StreamEvent | object] = asyncio.Queue(max_events)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_final: asyncio.Task[None] | None = None
        self._closed = False
        self._utterance = 0
        self._partial_running = False
        self._last_partial_ms = 0
        self._probed_pause = False
        self._last_voiced_ms = 0
        self._owner_hint = False
        self._partial_hint = False

    @classmethod
    def from_settings(cls, recognizer: Recognizer, rate: int,
                      settings: AsrSettings) -> UtteranceStream:
        """A stream with the node's VAD, endpointing and partial settings."""
        return cls(recognizer, rate, config=settings.endpointing.to_config(),
                   vad_aggressiveness=settings.vad_aggressiveness,
                   partial_interval_ms=settings.partial_interval_ms)

    # -- dialog controls ---------------------------------------------------

    def listen(self, config: EndpointerConfig | None = None,
               hints: Sequence[str] = ()) -> None:
        """Start a turn: apply this state's endpointing and hints, start the
        no-input timer. An utterance already under way continues."""
        self.reconfigure(config, hints)
        self._endpointer.arm()

    def reconfigure(self, config: EndpointerConfig | None = None,
                    hints: Sequence[str] | None = None) -> None:
        """Change endpointing and/or hints without starting a new turn."""
        if config is not None:
            self._endpointer.reconfigure(config)
        if hints is not None:
            self._hints = tuple(hints)

    def stop_no_input_timer(self) -> None:
        """No NoInput for this turn (for example while the engine is talking)."""
        self._endpointer.disarm()

    def set_complete_hint(self, complete: bool | None) -> None:
        """The dialog's view of whether the open utterance is finished; it
        replaces the partial-based guess until the utterance ends."""
        self._owner_hint = complete is not None
        self._endpointer.set_complete_hint(complete)

    @property
    def config(self) -> EndpointerConfig:
        return self._endpointer.config

    @property
    def in_speech(self) -> bool:
        """True while a confirmed utterance is open."""
        return self._endpointer.confirmed

    # -- audio in ------------------------------------------------------------

    def feed(self, frame: bytes) -> None:
        """Account for one frame of the caller's audio (on the event loop)."""
        if self._closed:
            return
        endpointer = self._endpointer
        voiced = self._vad.is_speech(frame)
        for event in endpointer.push(voiced, frame):
            if isinstance(event, UtteranceEnded):
                self._end_utterance(event)
            else:
                if isinstance(event, SpeechStarted):
                    self._last_partial_ms = 0
                self._emit(event)
        if not endpointer.confirmed:
            return
        if voiced:
            self._last_voiced_ms = endpointer.utterance_ms
            self._probed_pause = False
            if self._partial_hint:
                self._partial_hint = False
                endpointer.set_complete_hint(None)
        if self._partial_running:
            return
        paused = endpointer.trailing_silence_ms >= self._pause_probe_ms
        due = (not paused and endpointer.utterance_ms - self._last_partial_ms
               >= self._partial_interval_ms)
        pause = paused and not self._probed_pause
        if due or pause:
            self._probed_pause = self._probed_pause or pause
            self._request_partial()

    # -- events out ----------------------------------------------------------

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The stream's events, in order, until :meth:`aclose`."""
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                return
            yield cast(StreamEvent, item)

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self.events()

    async def aclose(self) -> None:
        """Stop listening: pending recognitions are abandoned, iteration ends."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while True:
            try:
                self._events.put_nowait(_CLOSED)
                return
            except asyncio.QueueFull:
                self._events.get_nowait()

    # -- internals -------------------------------------------------------------

    def _emit(self, event: StreamEvent) -> None:
        if self._closed:
            return
        if self._events.full():
            if isinstance(event, Partial):
                return
            dropped = self._events.get_nowait()
            log.warning("event queue full; dropped %s", type(dropped).__name__)
        self._events.put_nowait(event)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _request_partial(self) -> None:
        endpointer = self._endpointer
        self._partial_running = True
        self._last_partial_ms = endpointer.utterance_ms
        self._spawn(self._partial(self._utterance, endpointer.utterance_audio,
                                  endpointer.utterance_ms, self._hints), "asr-partial")

    async def _partial(self, utterance: int, audio: bytes, covered_ms: int,
                       hints: tuple[str, ...]) -> None:
        try:
            result = await self._recognizer.transcribe(audio, self.rate, final=False,
                                                       hints=hints)
        except Exception:
            log.exception("partial recognition failed")
            return
        finally:
            if utterance == self._utterance:
                self._partial_running = False
        if result is None or utterance != self._utterance or not self._endpointer.confirmed:
            return
        if not self._owner_hint and self._last_voiced_ms <= covered_ms:
            self._partial_hint = True
            self._endpointer.set_complete_hint(looks_complete(result.text))
        if result.text:
            self._emit(Partial(result, utterance))

    def _end_utterance(self, event: UtteranceEnded) -> None:
        utterance = self._utterance
        self._utterance += 1
        self._partial_running = False
        self._owner_hint = self._partial_hint = False
        self._probed_pause = False
        self._last_voiced_ms = 0
        previous = self._last_final
        self._last_final = self._spawn(
            self._final(utterance, event, self._hints, time.monotonic(), previous),
            "asr-final")

    async def _final(self, utterance: int, event: UtteranceEnded, hints: tuple[str, ...],
                     ended: float, previous: asyncio.Task[None] | None) -> None:
        try:
            result = await self._recognizer.transcribe(event.audio, self.rate, final=True,
                                                       hints=hints)
        except Exception:
            log.exception("final recognition failed")
            result = None
        if result is None:
            result = Transcript("", is_final=True)
        if previous is not None:
            await asyncio.wait([previous])
        self._emit(Final(transcript=result, utterance=utterance,
                         audio_seconds=len(event.audio) / 2 / self.rate,
                         speech_ms=event.speech_ms, onset_ms=event.onset_ms,
                         end_ms=event.at_ms, latency_s=time.monotonic() - ended,
                         reason=event.reason))
