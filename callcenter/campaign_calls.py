"""Campaign calls on this node: the `OutboundCalls` port over the SIP node
(the scheduler's wiring into ``callcenter serve`` is `callcenter.campaign_dialer`).

A campaign call is dialled through the campaign's trunk (whose caller ID
must be the campaign's: `trunk_problem`), never into the slots reserved for
agents, ringing ``ring_timeout_s`` (at least 15 s).

The identification (`outbound.call_opening`: "Hello, this is <business>,
calling for <name>.") is rendered while the phone rings and spoken the
moment it is answered, while the callee's first seconds are screened
(`callcenter.answer_screen`, settings ``outbound.answering_machine``; the
screen hears only the callee's audio, never ours). So a person is greeted
within ``ABANDON_AFTER_S`` (2 s) of the answer, not after the screen's
2 to 3 s; the attempt keeps ``greeted_at`` and ``abandoned``.

- A machine: the engine falls silent at once and leaves the campaign's
  message (`outbound.voicemail_message`, rendered while the greeting plays)
  after its beep, then hangs up; the attempt ends ``machine`` with the
  reason ``machine_message_left`` (or ``machine_hung_up`` when the machine
  cut the message short). Key 9 meanwhile is a person taken for a machine
  opting out.
- A person (or nobody decided by ``decision_s``): the opt-out is offered
  (press 9 or say stop, in full, no barge-in), then the campaign's flow runs
  with the contact's fields (``CallData.contact``). What the flow reached is
  the attempt's ``result`` and ``result_detail`` (the flow sets the variables
  of those names, e.g. config/flows/reminder.yaml).
- An opt-out, by key 9 or by voice at any point of the call
  (`callcenter.campaign_opt_out`), ends the flow; the number goes on the
  internal do-not-call list (source ``opt_out_dtmf`` / ``opt_out_voice``)
  before a short confirmation and the BYE, and the attempt ends
  ``opted_out``. The rules' ``internal_dnc`` check then refuses every later
  dial of the number, in every campaign.

A node with no conversations (``engine.flow: null``) has no synthesizer: it
screens nothing, plays its greeting and hangs up. Every call is journaled
like any other (CDR, events, recording).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.answer_screen import AnswerScreen
from callcenter.campaign_opt_out import OPT_OUT_KEY, OptOut, OptOutWatch
from callcenter.core.call import EndReason, outcome_for_code, utcnow
from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.errors import CallCenterError, CallFailed, CallGone, CapacityError
from callcenter.core.settings import Settings
from callcenter.core.speech import Synthesizer
from callcenter.core.store import AsyncStore
from callcenter.dialog_service import DialogService
from callcenter.machine_message import leave_machine_message
from dialog import DialogOutcome, Flow
from outbound.answering_machine import Verdict
from outbound.call_opening import (
    hello,
    identification,
    is_abandoned,
    opt_out_confirmation,
    opt_out_offer,
)
from outbound.campaign_spec import trunk_problem
from sip.call import SipCall
from sip.node import SipNode

log = logging.getLogger(__name__)

_OUTCOMES = {EndReason.BUSY: DialOutcome.BUSY, EndReason.NO_ANSWER: DialOutcome.NO_ANSWER}
#: A flow's ``result``: a short name (the contact's result column holds 16 characters).
_RESULT = re.compile(r"[a-z][a-z0-9_]{0,15}")
#: The longest wait for a short engine sentence to render and play (a confirmation).
SAY_LIMIT_S = 20.0


class _Greeting:
    """When a live call's first words went out, against its answer."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.answered = time.monotonic()
        self.after_s: float | None = None  # seconds from the answer to the first words
        self.at: datetime | None = None  # the same moment on the dialer's clock

    def greeted(self) -> None:
        if self.after_s is None:
            self.after_s = time.monotonic() - self.answered
            self.at = self._clock()

    def abandoned(self) -> bool:
        return is_abandoned(self.after_s, time.monotonic() - self.answered)


class SipCampaignCalls:
    """`OutboundCalls` on this node's SIP endpoint, conversations and greeting."""

    def __init__(self, node: SipNode, settings: Settings, dialogs: DialogService | None,
                 greeting: Callable[[int], Awaitable[bytes]], store: AsyncStore | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """``store``: where an opt-out's number goes (the internal DNC list);
        ``clock``: the dialer's (``greeted_at`` is on it, like ``dialed_at``)."""
        self.node = node
        self.settings = settings
        self.dialogs = dialogs
        self.greeting = greeting
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self._warming: asyncio.Future[None] | None = None

    async def free_slots(self) -> int:
        """Caller slots left (the slots reserved for agents are not a campaign's)."""
        stats = await self.node.stats()
        admission = self.node.gate.admission
        limit = admission.policy.caller_slots if admission is not None else stats.capacity
        return max(0, limit - stats.active_calls)

    def cannot_dial(self, caller_id: str, trunk: str, flow: str) -> str | None:
        """A trunk that cannot carry the caller ID, or a flow this node lacks."""
        problem = trunk_problem(caller_id, trunk, self.settings.sip.trunks)
        if problem is None and self.dialogs is not None:
            chosen = self.dialogs.flows.get(flow)
            if chosen is None:
                problem = (f"flow {flow!r} is not among this node's flows "
                           f"{sorted(self.dialogs.flows)}")
            elif (state := _state_keyed(chosen, OPT_OUT_KEY)) is not None:
                problem = (f"flow {flow!r}: key {OPT_OUT_KEY} is a campaign call's opt-out, "
                           f"but its menu uses it ({chosen.where('states', state)})")
        return problem

    def warm(self, business_names: Sequence[str]) -> None:
        """Render each campaign's `hello` ahead, into the voice's cache: the first
        call of a campaign then greets as fast as the others."""
        if self.dialogs is None or self.dialogs.synthesizer is None:
            return
        synthesizer, rate = self.dialogs.synthesizer, self._likely_rate()

        async def render() -> None:
            for name in dict.fromkeys(business_names):
                try:
                    await synthesizer.synthesize(hello(name), rate)
                except Exception:
                    log.exception("rendering %r ahead failed", hello(name))

        self._warming = asyncio.ensure_future(render())

    def _likely_rate(self) -> int:
        """The audio rate the first codec would give a call."""
        codecs = self.settings.sip.codecs
        return 16000 if codecs and codecs[0] == "G722" else 8000

    async def place(self, call: OutboundCall) -> DialResult:
        """Dial, and on an answer run the flow until the call ends."""
        opening = self._render_opening(call)
        try:
            sip_call = await self.node.dial(call.number, trunk=call.trunk,
                                            ring_timeout=call.ring_timeout_s, use_reserved=False)
        except CapacityError as exc:
            _dropped(opening)
            return DialResult(DialOutcome.NOT_PLACED, detail=str(exc))
        except CallFailed as exc:
            _dropped(opening)
            reason = outcome_for_code(exc.sip_code or 0)
            return DialResult(_OUTCOMES.get(reason, DialOutcome.FAILED), exc.sip_code,
                              call_id=exc.call_id, detail=str(exc))
        except CallCenterError as exc:
            _dropped(opening)
            return DialResult(DialOutcome.FAILED, detail=str(exc))
        except BaseException:
            _dropped(opening)
            raise
        greeting = _Greeting(self.clock)
        try:
            return await self._answered(sip_call, call, opening, greeting)
        except CallGone:
            return self._live(sip_call, greeting)
        except Exception:
            log.exception("campaign call %s to %s failed after the answer", sip_call.id,
                          call.number)
            if not sip_call.ended.done():
                await sip_call.hangup(EndReason.ENGINE_HANGUP)
            return self._live(sip_call, greeting)
        finally:
            _dropped(opening)

    def _render_opening(self, call: OutboundCall) -> _Opening | None:
        """Start rendering the identification while the phone rings."""
        if self.dialogs is None or self.dialogs.synthesizer is None:
            return None
        return _Opening(self.dialogs.synthesizer, identification(call.contact),
                        self._likely_rate())

    async def _answered(self, sip_call: SipCall, call: OutboundCall, opening: _Opening | None,
                        greeting: _Greeting) -> DialResult:
        """Greet at once while screening the answer; a machine gets its message,
        a person the opt-out offer and the flow."""
        if self.dialogs is None or self.dialogs.synthesizer is None:
            await self._play_greeting(sip_call)
            return DialResult(DialOutcome.ANSWERED, 200, call_id=sip_call.id)
        speaking = asyncio.ensure_future(self._identify(sip_call, call, opening, greeting))
        try:
            amd = self.settings.outbound.answering_machine
            if amd.enabled:
                screen = AnswerScreen(sip_call, amd)
                try:
                    decision = await screen.decide()
                    log.info("campaign call %s to %s: %s (%s) %.2f s after the answer",
                             sip_call.id, call.number, decision.verdict.value, decision.reason,
                             decision.at_s)
                    if decision.verdict is Verdict.MACHINE:
                        speaking.cancel()
                        sip_call.stop_audio()  # not another word over its greeting
                        left = await self._machine(sip_call, call, screen)
                        if isinstance(left, OptOut):  # a person after all
                            return await self._opted_out(sip_call, call, left, greeting)
                        reason, detail = left
                        return DialResult(DialOutcome.MACHINE, 200, call_id=sip_call.id,
                                          reason=reason, detail=(
                                              f"answering machine ({decision.reason}, "
                                              f"{decision.at_s:.1f} s); {detail}"))
                finally:
                    await screen.close()
            await asyncio.wait_for(asyncio.shield(speaking), SAY_LIMIT_S)
            return await self._converse(sip_call, call, greeting)
        finally:
            speaking.cancel()

    async def _identify(self, sip_call: SipCall, call: OutboundCall, opening: _Opening | None,
                        greeting: _Greeting) -> None:
        """Say who calls, now: each sentence as soon as it is rendered (during
        the ring, when the call's rate is the one guessed)."""
        assert self.dialogs is not None and self.dialogs.synthesizer is not None
        assert sip_call.media is not None
        rate = sip_call.media.clock_rate
        text = identification(call.contact)
        if opening is None or opening.rate != rate:
            _dropped(opening)
            opening = _Opening(self.dialogs.synthesizer, text, rate)
        try:
            while (pcm := await opening.sentences.get()) is not None:
                if sip_call.ended.done():
                    return
                sip_call.play(pcm)
                if greeting.after_s is None:
                    greeting.greeted()
                    log.info("campaign call %s: greeted %.2f s after the answer", sip_call.id,
                             greeting.after_s or 0.0)
                    self._journal(sip_call, "identification", text)
        finally:
            _dropped(opening)

    def _journal(self, sip_call: SipCall, state: str, text: str, *, speaker: str = "engine",
                 intent: str | None = None) -> None:
        """A turn outside the flow (the engine's sentence, the callee's opt-out),
        into the call's transcript."""
        if self.dialogs is not None:
            self.dialogs.journal.turn(sip_call, speaker=speaker, text=text, state=state,
                                      started_at=utcnow(), ended_at=None, intent=intent,
                                      confidence=None, data={})

    def _live(self, sip_call: SipCall, greeting: _Greeting,
              outcome: DialogOutcome | None = None) -> DialResult:
        """A live answer's result: its greeting, and what its flow reached."""
        if self.dialogs is None or self.dialogs.synthesizer is None:
            return DialResult(DialOutcome.ANSWERED, 200, call_id=sip_call.id)
        result, detail = _flow_result(outcome, sip_call.id)
        return DialResult(DialOutcome.ANSWERED, 200, call_id=sip_call.id, result=result,
                          result_detail=detail, greeted_at=greeting.at,
                          abandoned=greeting.abandoned())

    async def _machine(self, sip_call: SipCall, call: OutboundCall,
                       screen: AnswerScreen) -> tuple[str, str] | OptOut:
        """Leave the message; a person taken for a machine may still press the
        opt-out key meanwhile (the message then stops: their opt-out)."""
        assert self.dialogs is not None and self.dialogs.synthesizer is not None
        message = asyncio.ensure_future(leave_machine_message(
            sip_call, call, screen, self.dialogs.synthesizer))
        key = asyncio.ensure_future(_pressed(sip_call, OPT_OUT_KEY))
        waiting: set[asyncio.Future[Any]] = {message, key}
        try:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            key.cancel()
            if not message.done():
                message.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await message
        if message in done:
            return message.result()
        return OptOut("opt_out_dtmf", OPT_OUT_KEY)

    async def _converse(self, sip_call: SipCall, call: OutboundCall,
                        greeting: _Greeting) -> DialResult:
        """Offer the opt-out and run the flow, until the call ends, the callee
        opts out, or ``engine.max_call_s``."""
        assert self.dialogs is not None
        watch = OptOutWatch()
        flow = asyncio.ensure_future(self.dialogs.run_call(
            sip_call, flow=call.flow, contact=call.contact,
            prelude=opt_out_offer(call.contact, OPT_OUT_KEY), on_heard=watch.heard))
        waiting: set[asyncio.Future[Any]] = {flow, watch.requested}
        try:
            await asyncio.wait(waiting, timeout=self.settings.engine.max_call_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not flow.done():
                flow.cancel()
                with contextlib.suppress(asyncio.CancelledError, CallGone):
                    await flow
        if watch.requested.done():
            return await self._opted_out(sip_call, call, watch.requested.result(), greeting)
        if flow.cancelled():
            log.warning("campaign call %s: ended after engine.max_call_s", sip_call.id)
            if not sip_call.ended.done():
                await sip_call.hangup(EndReason.ENGINE_HANGUP)
            return self._live(sip_call, greeting)
        return self._live(sip_call, greeting, flow.result())

    async def _opted_out(self, sip_call: SipCall, call: OutboundCall, opt_out: OptOut,
                         greeting: _Greeting) -> DialResult:
        """The number on the internal list first, then a short goodbye and the BYE."""
        sip_call.stop_audio()
        self._journal(sip_call, "opt_out", opt_out.heard, speaker="caller", intent="opt_out")
        how = (f"key {opt_out.heard}" if opt_out.source == "opt_out_dtmf"
               else f"said {opt_out.heard!r}")
        campaign = call.contact.get("campaign", "?")
        detail = f"opted out during the call ({how})"
        try:
            if self.store is None:
                raise RuntimeError("this dialer has no store")
            await self.store.add_to_internal_dnc(call.number, source=opt_out.source,
                                                 actor=f"campaign {campaign}",
                                                 reason=f"{detail}, call {sip_call.id}")
            log.info("campaign call %s: %s opted out (%s): on the internal DNC list",
                     sip_call.id, call.number, how)
        except Exception as exc:
            log.exception("campaign call %s: %s opted out (%s) but could not be put on the "
                          "internal DNC list", sip_call.id, call.number, how)
            detail += f"; NOT on the internal DNC list: {exc}"
        if not sip_call.ended.done():
            text = opt_out_confirmation(call.contact)
            self._journal(sip_call, "opt_out", text)
            with contextlib.suppress(TimeoutError, CallGone):
                await asyncio.wait_for(self._say(sip_call, text), SAY_LIMIT_S)
            await sip_call.hangup(EndReason.ENGINE_HANGUP)
        return DialResult(DialOutcome.OPTED_OUT, 200, call_id=sip_call.id,
                          reason=opt_out.source, detail=detail, result="opted_out",
                          result_detail=how, greeted_at=greeting.at,
                          abandoned=greeting.abandoned())

    async def _say(self, sip_call: SipCall, text: str) -> None:
        """Speak ``text`` to the end (outside any flow)."""
        assert self.dialogs is not None and self.dialogs.synthesizer is not None
        assert sip_call.media is not None
        played: asyncio.Future[bool] | None = None
        async for pcm in self.dialogs.synthesizer.stream(text, sip_call.media.clock_rate):
            if sip_call.ended.done():
                return
            played = sip_call.play(pcm)
        if played is not None:
            await played
            await sip_call.played_out(timeout=1.0)

    async def _play_greeting(self, sip_call: SipCall) -> None:
        """A node without conversations: its greeting, then goodbye."""
        assert sip_call.media is not None
        await sip_call.play(await self.greeting(sip_call.media.clock_rate))
        if not sip_call.ended.done():
            await sip_call.hangup(EndReason.ENGINE_HANGUP)


class _Opening:
    """The identification rendering at ``rate``, sentence by sentence, into
    ``sentences`` (None after the last, or when rendering failed)."""

    def __init__(self, synthesizer: Synthesizer, text: str, rate: int) -> None:
        self.rate = rate
        self.sentences: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._render(synthesizer, text))

    async def _render(self, synthesizer: Synthesizer, text: str) -> None:
        try:
            async for pcm in synthesizer.stream(text, self.rate):
                self.sentences.put_nowait(pcm)
        except Exception:
            log.exception("the identification %r could not be rendered", text)
        finally:
            self.sentences.put_nowait(None)


def _dropped(opening: _Opening | None) -> None:
    """Stop rendering an identification nobody will hear."""
    if opening is not None:
        opening.task.cancel()


async def _pressed(sip_call: SipCall, key: str) -> None:
    """Until the callee presses ``key`` (other keys are dropped)."""
    while await sip_call.dtmf.get() != key:
        pass


def _state_keyed(flow: Flow, key: str) -> str | None:
    """The first state of ``flow`` whose menu offers ``key``, or None."""
    for name, state in flow.spec.states.items():
        if any(intent.dtmf == key for intent in (state.menu or {}).values()):
            return name
    return None


def _flow_result(outcome: DialogOutcome | None, call_id: str) -> tuple[str | None, str | None]:
    """The ``result`` and ``result_detail`` a flow set, if it set a valid one."""
    variables: Mapping[str, Any] = outcome.variables if outcome is not None else {}
    result, detail = variables.get("result"), variables.get("result_detail")
    if result is None:
        return None, None
    if not isinstance(result, str) or not _RESULT.fullmatch(result):
        log.warning("campaign call %s: the flow's result %r is not a short lower-case name; "
                    "not kept", call_id, result)
        return None, None
    return result, None if detail is None else str(detail)
