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
stream). When the caller pauses for ``pause_probe_ms``, the stream does not
wait for the endpointer: it starts the utterance's final recognition right
away (a *speculative final*, decoded like any final). If the caller stays
silent until the utterance ends, that result is the Final, so the final
usually costs nothing after the end of speech; if the caller speaks again,
it is dropped and the next pause speculates again.

Whether the answer is finished picks the short or the long end silence.
With a :class:`asr.end_of_turn.TurnDecisions` (the node's default), the
caller's voice decides at that same pause: the end-of-turn model hears the
utterance so far (off the loop, one decision per pause), and the
speculative text only keeps the turn open when it stops on a word that asks
for more (:func:`asr.end_of_turn.decide`); an answer with less voice than
``short_answer_ms`` is finished without asking the model. Without one, the
speculative text's punctuation decides
(:func:`asr.endpointing.looks_complete`). A hint holds only while the
caller stays silent; the dialog may instead set its own with
:meth:`UtteranceStream.set_complete_hint`.

Every utterance the endpointer ends is also handed, raw, to
:attr:`UtteranceStream.on_utterance` (when set) the moment it ends, before
recognition: tone and pace are measured on it (``callcenter.caller_agitation``)
independently of the transcript.

Each dialog state calls :meth:`UtteranceStream.listen` with its endpointing
and hints (expected answers, names); :meth:`UtteranceStream.reconfigure`
changes them without starting a new turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

from asr.end_of_turn import TurnDecisions, decide, turn_decisions
from asr.endpointing import (
    Endpointer,
    EndpointerConfig,
    NoInput,
    SpeechStarted,
    UtteranceEnded,
    VoiceOnset,
    looks_complete,
    trails_off,
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
_T = TypeVar("_T")


@dataclass
class _Speculation:
    """A final started at a pause of utterance `utterance`, `covered_ms` long,
    and what is known so far about whether the turn ended there."""

    utterance: int
    covered_ms: int
    short: bool
    task: asyncio.Task[Transcript | None] = field(repr=False)
    text: str | None = None
    probability: float | None = None
    judging: bool = False  # an end-of-turn decision is under way


class UtteranceStream:
    """VAD, endpointing and streaming recognition for one call's audio."""

    def __init__(self, recognizer: Recognizer, rate: int, *,
                 config: EndpointerConfig | None = None,
                 vad: FrameClassifier | None = None, vad_aggressiveness: int = 2,
                 vad_energy_floor_dbfs: float | None = -55.0,
                 frame_ms: int = 20, partial_interval_ms: int = 600,
                 pause_probe_ms: int = 80, max_events: int = 64,
                 turns: TurnDecisions | None = None) -> None:
        self.rate = rate
        self._turns = turns
        self._recognizer = recognizer
        self._vad = vad or VoiceActivityDetector(rate, aggressiveness=vad_aggressiveness,
                                                 frame_ms=frame_ms,
                                                 energy_floor_dbfs=vad_energy_floor_dbfs)
        self._endpointer = Endpointer(config, frame_ms=frame_ms)
        self._partial_interval_ms = partial_interval_ms
        self._pause_probe_ms = pause_probe_ms
        self._hints: tuple[str, ...] = ()
        self._events: asyncio.Queue[StreamEvent | object] = asyncio.Queue(max_events)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_final: asyncio.Task[None] | None = None
        self._closed = False
        self._utterance = 0
        self._partial_running = False
        self._last_partial_ms = 0
        self._last_voiced_ms = 0
        self._owner_hint = False
        self._partial_hint = False
        self._speculation: _Speculation | None = None
        self.speculations = 0
        self.speculations_used = 0
        self.wants_partials: Callable[[], bool] | None = None
        """Asked when a partial is due: False skips it (None: always decode)."""
        self.on_utterance: Callable[[int, bytes, int], None] | None = None
        """Called on the event loop with (utterance number, its PCM, stream
        time in ms at its end) as each utterance ends; must not block."""

    @classmethod
    def from_settings(cls, recognizer: Recognizer, rate: int,
                      settings: AsrSettings) -> UtteranceStream:
        """A stream with the node's VAD, endpointing, partial and end-of-turn
        settings (the node's one end-of-turn model: loaded on first use, so
        load it at start-up with :func:`asr.end_of_turn.turn_decisions`)."""
        return cls(recognizer, rate, config=settings.endpointing,
                   vad_aggressiveness=settings.vad_aggressiveness,
                   vad_energy_floor_dbfs=settings.vad_energy_floor_dbfs,
                   partial_interval_ms=settings.partial_interval_ms,
                   pause_probe_ms=settings.pause_probe_ms,
                   turns=turn_decisions(settings.end_of_turn))

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

    def restart_no_input_timer(self) -> None:
        """The turn's whole no-input time again from now (a call back from hold)."""
        self._endpointer.arm()

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
    def caller_talking(self) -> bool:
        """True from a voice onset (the barge-in signal) until the voice stops."""
        return self._endpointer.voice_active

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
            self._speculation = None  # the caller went on: that final is void
            if self._partial_hint:
                self._partial_hint = False
                endpointer.set_complete_hint(None)
            due = (endpointer.utterance_ms - self._last_partial_ms
                   >= self._partial_interval_ms)
            if due and not self._partial_running:
                if self.wants_partials is None or self.wants_partials():
                    self._request_partial()
                else:
                    self._last_partial_ms = endpointer.utterance_ms
        elif (self._speculation is None
              and endpointer.trailing_silence_ms >= self._pause_probe_ms):
            self._speculate()  # once per pause: speech voids it

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

    def _spawn(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
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
        if (not self._owner_hint and self._speculation is None
                and self._last_voiced_ms <= covered_ms):
            if self._turns is None:
                self._set_hint(looks_complete(result.text))
            elif trails_off(result.text):  # the voice decides at the pause
                self._set_hint(False)
        if result.text:
            self._emit(Partial(result, utterance))

    def _speculate(self) -> None:
        endpointer = self._endpointer
        self.speculations += 1
        audio = endpointer.utterance_audio
        task = self._spawn(self._recognize_final(audio, self._hints), "asr-speculative-final")
        short = endpointer.speech_ms < endpointer.config.short_answer_ms
        speculation = _Speculation(self._utterance, endpointer.utterance_ms, short, task)
        self._speculation = speculation
        task.add_done_callback(lambda _: self._speculated(speculation))
        if self._turns is None:
            return
        if short:
            self._judge(speculation)
            return
        speculation.judging = True
        judge = self._spawn(self._turns.probability(
            audio, self.rate, wanted=lambda: speculation is self._speculation), "end-of-turn")
        judge.add_done_callback(lambda done: self._judged(speculation, done))

    def _judged(self, speculation: _Speculation, task: asyncio.Task[float | None]) -> None:
        """The voice's end-of-turn decision is back."""
        if task.cancelled():
            return
        speculation.judging = False
        speculation.probability = task.result()
        self._judge(speculation)

    def _speculated(self, speculation: _Speculation) -> None:
        """A speculative final is back: its text is one signal of the end."""
        task = speculation.task
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if result is not None:
            speculation.text = result.text
            self._judge(speculation)

    def _judge(self, speculation: _Speculation) -> None:
        """If the caller is still silent at `speculation`'s pause, hint the
        endpointer with what is known of the end of the turn."""
        if (speculation is not self._speculation or self._owner_hint
                or not self._endpointer.confirmed):
            return
        text = speculation.text
        if self._turns is None:
            if text is not None:
                self._set_hint(looks_complete(text))
        elif speculation.judging:
            if text is not None and trails_off(text):
                self._set_hint(False)
        else:
            complete = decide(speculation.probability, text, self._turns.threshold,
                              short=speculation.short)
            if complete is not None:
                self._set_hint(complete)

    def _set_hint(self, complete: bool) -> None:
        self._partial_hint = True
        self._endpointer.set_complete_hint(complete)

    async def _recognize_final(self, audio: bytes, hints: tuple[str, ...]
                               ) -> Transcript | None:
        try:
            return await self._recognizer.transcribe(audio, self.rate, final=True, hints=hints)
        except Exception:
            log.exception("final recognition failed")
            return None

    def _end_utterance(self, event: UtteranceEnded) -> None:
        utterance = self._utterance
        self._utterance += 1
        self._partial_running = False
        self._owner_hint = self._partial_hint = False
        self._last_voiced_ms = 0
        speculation, self._speculation = self._speculation, None
        if speculation is not None and speculation.utterance != utterance:
            speculation = None
        if self.on_utterance is not None:
            try:
                self.on_utterance(utterance, event.audio, event.at_ms)
            except Exception:  # a listener must not stop recognition
                log.exception("on_utterance failed")
        previous = self._last_final
        self._last_final = self._spawn(
            self._final(utterance, event, self._hints, time.monotonic(), previous,
                        speculation),
            "asr-final")

    async def _final(self, utterance: int, event: UtteranceEnded, hints: tuple[str, ...],
                     ended: float, previous: asyncio.Task[None] | None,
                     speculation: _Speculation | None) -> None:
        result = None
        if speculation is not None:
            # The caller has been silent since it started: the same words.
            result = await speculation.task
            self.speculations_used += result is not None
        if result is None:
            result = await self._recognize_final(event.audio, hints)
        if result is None:
            result = Transcript("", is_final=True)
        if previous is not None:
            await asyncio.wait([previous])
        self._emit(Final(transcript=result, utterance=utterance,
                         audio_seconds=len(event.audio) / 2 / self.rate,
                         speech_ms=event.speech_ms, onset_ms=event.onset_ms,
                         end_ms=event.at_ms, latency_s=time.monotonic() - ended,
                         reason=event.reason))
