"""A caller's side of a dialog over a real call: listening, speaking, barge-in.

:class:`CallConversation` implements the dialog's ports (``CallerIO`` and
``Transferrer``) for one :class:`sip.call.SipCall`:

- the caller's frames feed an :class:`asr.stream.UtteranceStream` (VAD,
  endpointing, streaming Whisper); its finals, no-input timeouts and the
  call's DTMF digits become the dialog's ``CallerInput``s;
- ``say`` streams piper audio sentence by sentence into the call, keeping
  at most one sentence queued ahead so that a barge-in wastes little work;
- barge-in: confirmed speech (or a DTMF key) while the engine speaks, in a
  state that allows it, stops the engine's audio at once; the utterance that
  interrupted is then the answer to the next ``listen``;
- what the caller heard of each prompt, cut by barge-in or hang-up or not,
  is kept for the transcript (:mod:`callcenter.prompt_playback`);
- hold: while either side holds the call the flow waits. A prompt under
  way stops and is played again from its start once the call is back; the
  caller's audio is not heard meanwhile (a phone may send music on hold),
  which also stops the no-input clock; a turn being listened to gets its
  whole no-input time again on resume;
- ``transfer`` to a queue the engine has puts the caller in the human queue
  (the caller stays on the engine; listening pauses meanwhile and the queue
  reads the caller's keys and voice: a callback key, a voicemail) and returns
  when an agent has talked to them, or nobody would; other targets, and
  queues that cannot take the caller, fall back to a blind REFER to the URI
  (the caller hears ringback until the REFER's outcome is known);
- tone and pace: every utterance the endpointer ends is scored on its raw
  audio in a worker (:class:`callcenter.caller_agitation.CallerAgitation`),
  and the next input carries the scores (``CallerInput.voice``); an
  utterance the recognizer found no words in still reaches the dialog as
  voice alone;
- ``on_heard`` sees every key and every recognized utterance as it comes,
  whatever the dialog is doing (a campaign call's opt-out is heard at any
  point, even over a prompt that allows no barge-in);
- every transfer is an ``escalation`` call event with the dialog's reason and
  scores, and the caller enters a queue with the :class:`Handoff` (number,
  reason, scores, the flow's variables, the transcript so far).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from asr.settings import AsrSettings
from asr.stream import Final, NoInput, Partial, UtteranceStream, VoiceOnset
from callcenter.blind_transfer import blind_transfer
from callcenter.caller_agitation import CallerAgitation
from callcenter.core.call import utcnow
from callcenter.core.errors import CallGone
from callcenter.core.speech import CallTrend, Recognizer, Synthesizer, UtteranceScores
from callcenter.handoff import Handoff
from callcenter.prompt_playback import Cut, PlayedPrompt, PromptPlayback
from callcenter.queued_call import QueueResult
from dialog.ports import (
    CallerInput,
    InputKind,
    ListenSettings,
    TransferResult,
    TransferTarget,
    Turn,
    user_part,
)
from sip.call import SipCall
from tts.sentences import split_sentences

log = logging.getLogger(__name__)

DIGIT_GAP_S = 3.0  # a pause this long ends a multi-digit entry


class HumanQueues(Protocol):
    """The engine's human queue, as a transfer sees it (`callcenter.acd_service`)."""

    def takes(self, queue: str) -> bool:
        """Whether the engine has a queue of this name."""

    async def enter(self, call: SipCall, queue: str, *, escalated: bool = False,
                    handoff: Handoff | None = None) -> QueueResult:
        """Wait in `queue` until an agent has talked to the caller, or they left."""


class CallConversation:
    """Dialog ports over one answered call."""

    def __init__(self, call: SipCall, recognizer: Recognizer, synthesizer: Synthesizer,
                 asr: AsrSettings, *,
                 on_partial: Callable[[str, int], None] | None = None,
                 queues: HumanQueues | None = None,
                 on_scores: Callable[[UtteranceScores, CallTrend], None] | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 on_heard: Callable[[CallerInput], None] | None = None) -> None:
        """`on_partial(text, utterance)` hears each partial transcript (for a
        live view of the call); it runs on the event loop and must not block.
        `on_heard(input)` sees each key (one digit) and each utterance with
        words, whether the dialog listens or not (on the loop, not blocking).
        `queues`: where a transfer to a queue goes (None: REFER only).
        `on_scores(scores, trend)` hears each utterance's tone and pace;
        `on_event(kind, data)` takes the call's events (``escalation``)."""
        assert call.media is not None, "the call must be answered first"
        self.call = call
        self.rate = call.media.clock_rate
        self._synth = synthesizer
        self.stream = UtteranceStream.from_settings(recognizer, self.rate, asr)
        self._inputs: asyncio.Queue[CallerInput] = asyncio.Queue()
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._input: list[asyncio.Task[None]] = []  # the caller's audio and keys
        self._speaking = False
        self._barge_allowed = True
        self._barged = asyncio.Event()
        self._talking_over = False  # the voice that last barged in is still on
        self._listening = False
        self._on_partial = on_partial
        self._queues = queues
        self._paused = False  # in the human queue: nothing heard goes to the dialog
        self.agitation = CallerAgitation(self.rate, on_scored=on_scores)
        self.stream.on_utterance = self.agitation.utterance_ended
        self._on_event = on_event
        self._on_heard = on_heard
        self.turns: list[Turn] = []
        """The conversation so far (the dialog's turns), for the handoff."""
        self.last_prompt: PlayedPrompt | None = None
        """The last prompt as the caller heard it, until taken (:meth:`take_prompt`)."""
        self._barged_at = self._ended_at = self._held_at = 0.0  # monotonic times of cuts
        self._held_cut = False  # the prompt under way was stopped by a hold
        self._off_hold = asyncio.Event()
        if not call.on_hold:
            self._off_hold.set()
        self._unwatch_hold = call.watch_hold(self._hold_changed)
        call.ended.add_done_callback(self._note_hangup)

    async def start(self) -> None:
        """Start listening to the call (audio, recognition events, DTMF)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump_events(), name="conv-events")]
        self._start_input()

    def _start_input(self) -> None:
        """Read the caller's audio and keys (again, once the human queue is done with them)."""
        loop = asyncio.get_running_loop()
        self._input = [loop.create_task(self._pump_audio(), name="conv-audio"),
                       loop.create_task(self._pump_dtmf(), name="conv-dtmf")]

    async def _stop_input(self) -> None:
        """Leave the caller's audio and keys to someone else (the human queue)."""
        tasks, self._input = self._input, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, CallGone):
                await task

    async def close(self) -> None:
        self._unwatch_hold()
        await self._stop_input()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, CallGone):
                await task
        await self.stream.aclose()
        await self.agitation.aclose()
        if self.agitation.audio_s:
            log.info("call %s: tone and pace of %.1f s of speech cost %.1f ms CPU (%.2f %%)",
                     self.call.id[:8], self.agitation.audio_s, self.agitation.cpu_s * 1000,
                     self.agitation.load * 100)

    # -- inputs ----------------------------------------------------------------
    async def _pump_audio(self) -> None:
        async for frame in self.call.frames():
            if not self._paused and self._off_hold.is_set():
                self.stream.feed(frame)

    async def _pump_events(self) -> None:
        async for event in self.stream.events():
            if isinstance(event, VoiceOnset):
                if self._speaking and self._barge_allowed:
                    self._barge_in("speech")
            elif isinstance(event, Final):
                self._talking_over = False
                if self._on_heard is not None and event.transcript.text.strip():
                    self._on_heard(CallerInput.speech(event.transcript.text.strip(),
                                                      event.transcript.confidence))
                if self._listening or self._barged.is_set():
                    text = event.transcript.text.strip()
                    voice = await self.agitation.voice_until(event.utterance)
                    if text or voice:
                        self._inputs.put_nowait(CallerInput.speech(
                            text, event.transcript.confidence if text else 0.0, voice))
            elif isinstance(event, NoInput) and self._listening:
                self._inputs.put_nowait(CallerInput.no_input())
            elif isinstance(event, Partial) and self._on_partial is not None:
                self._on_partial(event.transcript.text, event.utterance)

    async def _pump_dtmf(self) -> None:
        while True:
            digit = await self.call.dtmf.get()
            if self._paused:
                continue
            if self._on_heard is not None:
                self._on_heard(CallerInput.dtmf(digit))
            if self._speaking:
                if not self._barge_allowed:
                    continue  # a legal notice plays through, keys included
                self._barge_in("dtmf")
            self._digits.put_nowait(digit)

    def _hold_changed(self, held: bool) -> None:
        if not held:
            self._off_hold.set()
            if self._listening:
                self.stream.restart_no_input_timer()
            log.info("call %s: off hold, the flow goes on", self.call.id[:8])
            return
        self._off_hold.clear()
        if self._speaking and not self._paused:
            self._held_cut = True
            self._held_at = time.monotonic()
            self.call.stop_audio()
        log.info("call %s: on hold, the flow waits", self.call.id[:8])

    async def _until_off_hold(self) -> None:
        """Return once the call is not on hold; CallGone if it ends first."""
        if self._off_hold.is_set():
            return
        back: asyncio.Future[Any] = asyncio.ensure_future(self._off_hold.wait())
        ended: asyncio.Future[Any] = self.call.ended
        try:
            await asyncio.wait({back, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            back.cancel()
        if not self._off_hold.is_set():
            raise CallGone("the caller hung up while on hold")

    def _barge_in(self, why: str) -> None:
        self._talking_over = why == "speech"
        self.call.stop_audio()
        self._barged_at = time.monotonic()
        self._barged.set()
        log.info("call %s: barge-in (%s)", self.call.id[:8], why)

    # -- CallerIO ----------------------------------------------------------------
    async def say(self, text: str, *, barge_in: bool) -> None:
        """Speak `text`, sentence by sentence; stop at once on barge-in.
        What the caller heard of it is :attr:`last_prompt` afterwards. On a
        held call it waits until the call is back, and a prompt that a hold
        stopped is played again from its start."""
        while True:
            await self._until_off_hold()
            self._held_cut = False
            await self._say_once(text, barge_in=barge_in)
            if not self._held_cut:
                return
            log.info("call %s: a hold stopped the prompt; it plays again once the call "
                     "is back", self.call.id[:8])

    async def _say_once(self, text: str, *, barge_in: bool) -> None:
        self._barged.clear()
        self._barge_allowed = barge_in
        playback = PromptPlayback(text, split_sentences(text), self.rate)
        started_at = utcnow()
        self._talking_over = self._talking_over and self.stream.caller_talking
        if barge_in and self._talking_over:
            # The caller's voice that stopped the prompt before goes on (a
            # "say, then go on" state): this one yields at once too, rather
            # than play over them.
            self._barged_at = time.monotonic()
            self._barged.set()
            self.last_prompt = playback.played("barge_in", self._barged_at, started_at,
                                               started_at)
            return
        self._speaking = True
        previous: asyncio.Future[bool] | None = None
        whole = False
        try:
            async with contextlib.aclosing(self._synth.stream(text, self.rate)) as chunks:
                async for chunk in chunks:
                    if self._barged.is_set() or self._held_cut or self.call.ended.done():
                        break
                    playing = self.call.play(chunk)
                    playback.queued(chunk)
                    if previous is not None and not await previous:
                        break  # stopped: barge-in or hang-up
                    previous = playing
                else:
                    whole = True
            if self._barged.is_set() or self._held_cut:
                whole = False
            elif previous is not None:
                whole = await previous and whole
        finally:
            self._speaking = False
            cut, at = (None, None) if whole else self._cut()
            self.last_prompt = playback.played(cut, at, started_at, utcnow())
        if self.call.ended.done():
            raise CallGone("the caller hung up")

    def _cut(self) -> tuple[Cut | None, float | None]:
        """Who cut the prompt just stopped, and when (monotonic); (None, None)
        when neither the caller's barge-in, a hold nor their hang-up did."""
        ended = self.call.ended.done()
        ended_at = self._ended_at or time.monotonic()  # its callback may still be due
        if self._barged.is_set() and not (ended and ended_at < self._barged_at):
            return "barge_in", self._barged_at
        if self._held_cut and not (ended and ended_at < self._held_at):
            return "hold", self._held_at
        return ("hangup", ended_at) if ended else (None, None)

    def _note_hangup(self, _: asyncio.Future[Any]) -> None:
        self._ended_at = time.monotonic()

    def take_prompt(self, text: str | None = None) -> PlayedPrompt | None:
        """:attr:`last_prompt`, once: None if already taken or (given `text`)
        if it was another prompt."""
        prompt = self.last_prompt
        if prompt is None or (text is not None and prompt.full_text != text):
            return None
        self.last_prompt = None
        return prompt

    async def listen(self, hints: Sequence[str], settings: ListenSettings) -> CallerInput:
        """One caller turn: an utterance, DTMF keys, or nothing in time.

        `settings.endpointing` is the node's with the state's overrides
        merged in (:func:`dialog.listening.listen_settings`)."""
        self._drop_stale_no_input()
        self._listening = True
        self.stream.listen(settings.endpointing, hints)
        try:
            return await self._next_input(settings)
        finally:
            self._listening = False
            self._barged.clear()

    def _drop_stale_no_input(self) -> None:
        kept = [i for i in _drain(self._inputs) if i.kind != InputKind.NO_INPUT]
        for item in kept:
            self._inputs.put_nowait(item)

    async def _next_input(self, settings: ListenSettings) -> CallerInput:
        speech = asyncio.ensure_future(self._inputs.get())
        digit = asyncio.ensure_future(self._digits.get())
        ended: asyncio.Future[Any] = asyncio.ensure_future(asyncio.shield(self.call.ended))
        waiting: set[asyncio.Future[Any]] = {speech, digit, ended}
        try:
            done, _ = await asyncio.wait(waiting,
                                         return_when=asyncio.FIRST_COMPLETED)
            if digit in done:
                self.stream.stop_no_input_timer()
                return CallerInput.dtmf(await self._collect_digits(digit.result(), settings))
            if speech in done:
                return speech.result()
            raise CallGone("the caller hung up")
        finally:
            for task in (speech, digit, ended):
                task.cancel()
            if speech.done() and not speech.cancelled() and digit.done():
                self._inputs.put_nowait(speech.result())  # both at once: keep the words

    async def _collect_digits(self, first: str, settings: ListenSettings) -> str:
        digits = first
        while len(digits) < settings.max_digits and not digits.endswith("#"):
            try:
                digits += await asyncio.wait_for(self._digits.get(), DIGIT_GAP_S)
            except TimeoutError:
                break
        return digits

    async def hangup(self) -> None:
        """Hang up once the last prompt has left in full: its future resolved
        when its audio was handed to the bridge, which sends the last ~100 ms
        after that (hanging up at once clipped a closing "Goodbye!")."""
        await self.call.played_out()
        await self.call.hangup()

    # -- Transferrer ---------------------------------------------------------------
    async def transfer(self, target: TransferTarget) -> bool | TransferResult:
        """Put the caller in the engine's queue, or blind-transfer them to the
        target's SIP URI (a queue's fallback when the engine has no such
        queue or it cannot take the caller now)."""
        handoff = Handoff.of(user_part(self.call.info.from_uri), target.why, self.turns,
                             target.priority_boost)
        if self._on_event is not None:
            self._on_event("escalation", {"target": str(target), "queue": target.queue,
                                        "uri": target.uri, "escalated": target.escalated,
                                        **handoff.event_data()})
        queues = self._queues
        if target.queue is not None and queues is not None and queues.takes(target.queue):
            result = await self._wait_in_queue(queues, target.queue, target.escalated, handoff)
            if result is not None:
                return result
        uri = target.uri
        if not uri:
            log.info("call %s: nobody takes %s and it has no SIP URI to send the caller to",
                     self.call.id[:8], target)
            return False
        try:
            code = await blind_transfer(self.call, uri, self.rate)
        except (CallGone, TimeoutError):
            return self.call.ended.done()
        return 200 <= code < 300

    async def _wait_in_queue(self, queues: HumanQueues, queue: str, escalated: bool,
                             handoff: Handoff) -> TransferResult | None:
        """The caller's time in the human queue, as the dialog sees it (None:
        the queue did not take the caller)."""
        self._paused = True
        self.call.stop_audio()
        await self._stop_input()  # the queue reads keys (callback) and voice (voicemail)
        try:
            result = await queues.enter(self.call, queue, escalated=escalated, handoff=handoff)
        finally:
            self._paused = False
            _drain(self.call.dtmf)  # keys meant for the queue or the agent
            _drain(self._digits)
            self._drop_stale_no_input()
            self._start_input()
        if result is QueueResult.ABANDONED:
            raise CallGone("the caller hung up in the queue")
        return _QUEUE_RESULTS.get(result)


# How a stay in the human queue ends the dialog's transfer (not taken: try the URI).
_QUEUE_RESULTS = {QueueResult.DONE: TransferResult.DONE,
                  QueueResult.FAILED: TransferResult.FAILED,
                  QueueResult.RETURNED: TransferResult.RETURNED}


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
