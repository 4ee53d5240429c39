"""Campaign calls on this node: the `OutboundCalls` port over the SIP node, and
the scheduler's wiring into ``callcenter serve``.

A campaign call is dialled through the campaign's trunk (whose caller ID
must be the campaign's: `trunk_problem`), never into the slots reserved for
agents, ringing ``ring_timeout_s`` (at least 15 s). On an answer the
callee's first seconds are screened (`callcenter.answer_screen`, settings
``outbound.answering_machine``): a person, or nobody decided by
``decision_s``, gets the campaign's flow with the contact's fields
(``CallData.contact``); a machine gets the campaign's message
(`outbound.voicemail_message`, rendered by the node's synthesizer while the
greeting plays) after its beep, then the engine hangs up and the attempt
ends ``machine`` with the reason ``machine_message_left`` (or
``machine_hung_up`` when the machine cut the message short). A node with no
conversations (``engine.flow: null``) has no synthesizer: it screens
nothing, plays its greeting and hangs up. Every call is journaled like any
other (CDR, events, recording).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from callcenter.answer_screen import AnswerScreen
from callcenter.core.call import EndReason, outcome_for_code
from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.errors import CallCenterError, CallFailed, CallGone, CapacityError
from callcenter.core.events import EventBus
from callcenter.core.settings import Settings
from callcenter.core.store import AsyncStore
from callcenter.dialog_service import DialogService
from compliance.dial_case import MessageKind
from compliance.dial_facts import DialFacts
from compliance.dnc_registry import RegistrySnapshotError
from compliance.store_dial_facts import StoreDialFacts
from outbound.answering_machine import Verdict
from outbound.campaign_spec import trunk_problem
from outbound.scheduler import CampaignScheduler
from outbound.voicemail_message import MAX_HEALTHCARE_S, text_for_call
from sip.call import SipCall
from sip.node import SipNode

log = logging.getLogger(__name__)

_OUTCOMES = {EndReason.BUSY: DialOutcome.BUSY, EndReason.NO_ANSWER: DialOutcome.NO_ANSWER}
#: How long the rules' facts keep one National DNC snapshot before looking for a newer one.
FACTS_REFRESH_S = 60.0


class SipCampaignCalls:
    """`OutboundCalls` on this node's SIP endpoint, conversations and greeting."""

    def __init__(self, node: SipNode, settings: Settings, dialogs: DialogService | None,
                 greeting: Callable[[int], Awaitable[bytes]]) -> None:
        self.node = node
        self.settings = settings
        self.dialogs = dialogs
        self.greeting = greeting

    async def free_slots(self) -> int:
        """Caller slots left (the slots reserved for agents are not a campaign's)."""
        stats = await self.node.stats()
        admission = self.node.gate.admission
        limit = admission.policy.caller_slots if admission is not None else stats.capacity
        return max(0, limit - stats.active_calls)

    def cannot_dial(self, caller_id: str, trunk: str, flow: str) -> str | None:
        """A trunk that cannot carry the caller ID, or a flow this node lacks."""
        problem = trunk_problem(caller_id, trunk, self.settings.sip.trunks)
        if problem is None and self.dialogs is not None and flow not in self.dialogs.flows:
            problem = f"flow {flow!r} is not among this node's flows {sorted(self.dialogs.flows)}"
        return problem

    async def place(self, call: OutboundCall) -> DialResult:
        """Dial, and on an answer run the flow until the call ends."""
        try:
            sip_call = await self.node.dial(call.number, trunk=call.trunk,
                                            ring_timeout=call.ring_timeout_s, use_reserved=False)
        except CapacityError as exc:
            return DialResult(DialOutcome.NOT_PLACED, detail=str(exc))
        except CallFailed as exc:
            reason = outcome_for_code(exc.sip_code or 0)
            return DialResult(_OUTCOMES.get(reason, DialOutcome.FAILED), exc.sip_code,
                              detail=str(exc))
        except CallCenterError as exc:
            return DialResult(DialOutcome.FAILED, detail=str(exc))
        result = DialResult(DialOutcome.ANSWERED, 200, call_id=sip_call.id)
        try:
            result = await self._answered(sip_call, call) or result
        except CallGone:
            pass
        except Exception:
            log.exception("campaign call %s to %s failed after the answer", sip_call.id,
                          call.number)
            if not sip_call.ended.done():
                await sip_call.hangup(EndReason.ENGINE_HANGUP)
        return result

    async def _answered(self, sip_call: SipCall, call: OutboundCall) -> DialResult | None:
        """Screen the answer; a machine's result, or None once the flow has run."""
        amd = self.settings.outbound.answering_machine
        if amd.enabled and self.dialogs is not None and self.dialogs.synthesizer is not None:
            screen = AnswerScreen(sip_call, amd)
            try:
                decision = await screen.decide()
                log.info("campaign call %s to %s: %s (%s) %.2f s after the answer", sip_call.id,
                         call.number, decision.verdict.value, decision.reason, decision.at_s)
                if decision.verdict is Verdict.MACHINE:
                    reason, detail = await self._leave_message(sip_call, call, screen)
                    return DialResult(DialOutcome.MACHINE, 200, call_id=sip_call.id,
                                      reason=reason, detail=(
                                          f"answering machine ({decision.reason}, "
                                          f"{decision.at_s:.1f} s); {detail}"))
            finally:
                await screen.close()
        await self._converse(sip_call, call)
        return None

    async def _leave_message(self, sip_call: SipCall, call: OutboundCall,
                             screen: AnswerScreen) -> tuple[str, str]:
        """Render the message while the greeting plays (sentence by sentence),
        play it after the beep, hang up. Returns the attempt's reason and a detail."""
        assert self.dialogs is not None and self.dialogs.synthesizer is not None
        assert sip_call.media is not None
        rate = sip_call.media.clock_rate
        sentences: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def render() -> None:
            assert self.dialogs is not None and self.dialogs.synthesizer is not None
            try:
                async for pcm in self.dialogs.synthesizer.stream(text_for_call(call.contact),
                                                                 rate):
                    sentences.put_nowait(pcm)
            finally:
                sentences.put_nowait(None)

        rendering = asyncio.ensure_future(render())
        try:
            cue = await screen.message_cue()
            if cue is None or sip_call.ended.done():
                return "machine_hung_up", "hung up before the message"
            played, seconds = await self._play_message(sip_call, call, sentences)
        finally:
            rendering.cancel()
        if not seconds:
            failure = None if rendering.cancelled() else rendering.exception()
            log.error("campaign call %s: no machine message to play (%s)", sip_call.id, failure)
            await sip_call.hangup(EndReason.ENGINE_HANGUP)
            return "machine_no_message", f"the message could not be rendered: {failure}"
        after = f"message after the {cue.reason.replace('_', ' ')} at {cue.at_s:.1f} s"
        if not played or sip_call.ended.done():
            return "machine_hung_up", f"hung up during the {after}"
        await sip_call.hangup(EndReason.ENGINE_HANGUP)
        return "machine_message_left", f"{after} ({seconds:.1f} s)"

    @staticmethod
    async def _play_message(sip_call: SipCall, call: OutboundCall,
                            sentences: asyncio.Queue[bytes | None]) -> tuple[bool, float]:
        """Play the sentences as they come (a healthcare message cut at
        ``MAX_HEALTHCARE_S``); whether it played to the end, and its length."""
        assert sip_call.media is not None
        rate = sip_call.media.clock_rate
        left = (int(MAX_HEALTHCARE_S * rate) * 2
                if call.contact.get("message_kind") == MessageKind.HEALTHCARE_REMINDER
                else None)
        played: asyncio.Future[bool] | None = None
        total = 0
        while (pcm := await sentences.get()) is not None:
            if played is None:
                log.info("campaign call %s: the machine message starts", sip_call.id)
            if left is not None and total + len(pcm) > left:
                log.error("campaign call %s: the machine message is cut at %.0f s",
                          sip_call.id, MAX_HEALTHCARE_S)
                pcm = pcm[:left - total]
            total += len(pcm)
            played = sip_call.play(pcm)
            if left is not None and total >= left:
                break
        ok = played is not None and await played
        await sip_call.played_out(timeout=1.0)
        return ok, total / 2 / rate

    async def _converse(self, sip_call: SipCall, call: OutboundCall) -> None:
        limit = self.settings.engine.max_call_s
        if self.dialogs is not None:
            try:
                await asyncio.wait_for(self.dialogs.run_call(sip_call, flow=call.flow,
                                                             contact=call.contact), limit)
            except TimeoutError:
                await sip_call.hangup(EndReason.ENGINE_HANGUP)
            return
        assert sip_call.media is not None
        await sip_call.play(await self.greeting(sip_call.media.clock_rate))
        if not sip_call.ended.done():
            await sip_call.hangup(EndReason.ENGINE_HANGUP)


class CachedDialFacts:
    """The rules' facts from the store, with the National DNC snapshot reloaded
    at most every ``FACTS_REFRESH_S`` (a new import is picked up within that)."""

    def __init__(self, store: AsyncStore, settings: Settings) -> None:
        self._store = store.store
        self._data_dir = settings.node.data_dir
        self._facts: StoreDialFacts | None = None
        self._loaded = 0.0

    def __call__(self) -> DialFacts:
        """Facts for one check (called on a worker thread)."""
        if self._facts is None or time.monotonic() - self._loaded > FACTS_REFRESH_S:
            try:
                self._facts = StoreDialFacts.of(self._store, self._data_dir)
            except RegistrySnapshotError as exc:
                log.error("National DNC snapshot unreadable (%s): telemarketing stops", exc)
                self._facts = StoreDialFacts(self._store, None)
            self._loaded = time.monotonic()
        return self._facts


def dialer_clock(start: datetime | None) -> Callable[[], datetime]:
    """The wall clock (UTC), or one that starts at ``start`` and runs at real speed."""
    if start is None:
        return lambda: datetime.now(UTC)
    began = time.monotonic()
    origin = start.astimezone(UTC)
    log.warning("the campaign dialer's clock starts at %s (outbound.clock_start)", origin)
    return lambda: origin + timedelta(seconds=time.monotonic() - began)


async def start_campaigns(settings: Settings, store: AsyncStore, node: SipNode,
                          dialogs: DialogService | None,
                          greeting: Callable[[int], Awaitable[bytes]], name: str,
                          gone_nodes: Sequence[str],
                          events: EventBus | None = None) -> CampaignScheduler:
    """Settle what dead nodes (and this node's earlier life) left claimed, then
    start dialling the running campaigns; their news goes to ``events``."""
    calls = SipCampaignCalls(node, settings, dialogs, greeting)
    scheduler = CampaignScheduler(store.campaigns, calls, CachedDialFacts(store, settings),
                                  node=name, clock=dialer_clock(settings.outbound.clock_start),
                                  poll_s=settings.outbound.poll_s, events=events)
    settled = await scheduler.recover(gone_nodes)
    if settled:
        log.warning("%d campaign attempt(s) left by stopped or dead nodes settled", settled)
    scheduler.start()
    return scheduler
