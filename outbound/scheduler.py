"""The campaign dialer of one node: durable, paced, and checked before every dial.

Each pass (every ``poll_s``, sooner when a call ends or a pacer allows the
next call) goes over the ``running`` campaigns within their active dates
and, for each, claims due attempts in the store (``store.campaigns.claim_due``)
up to the least of: the node's free call slots, the campaign's pacer
(``calls_per_s`` on this node) and its ``max_concurrent`` (across nodes).
Each claimed attempt then, in its own task:

1. asks the dialing rules (``compliance.dialing_rules.decide``) with the
   facts the stores hold now (DNC lists, consents, the attempt log, the
   contact's address), the clock being the scheduler's;
2. if refused: a time-bound refusal (calling hours, multi-zone, holiday,
   frequency cap) defers the attempt to the first allowed moment
   (`outbound.next_allowed`) without using it up; any other refusal (DNC,
   consent, invalid number) finishes it as ``blocked`` with the reason and
   the decision, and the contact is done (a missing or stale National DNC
   snapshot is the company's problem, not the callee's: those attempts wait
   an hour at a time for a fresh import);
3. else stamps ``dialed_at`` in the store, then dials (the `OutboundCalls`
   port), and finishes the attempt with the call's outcome, scheduling the
   next per the campaign's retry policy (`outbound.retry_policy`).

Because the claim and the ``dialed_at`` stamp are committed before the
INVITE, a ``kill -9`` loses nothing: `recover` (run at start for this
node's name and for nodes found dead) releases attempts claimed but never
stamped (no INVITE went out) and finishes stamped ones as ``unknown``, which
the frequency caps count and which is retried only as the policy says
(``unknown`` follows ``failed`` unless the campaign gives it a rule). No
attempt is dialled twice: a finished attempt is never claimed again.

Every finished attempt, and every change of a campaign's state this node
sees (started, paused, resumed, finished), is published on the node's event
bus (`outbound.campaign_news`), after the store has it. An abandoned live
answer (not greeted within 2 s) that takes the campaign's 30-day
abandonment rate over its limit (`outbound.abandonment`) pauses the
campaign: the reason goes into that attempt's trail (``paused_campaign``),
on the bus and into the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall, OutboundCalls
from callcenter.core.events import EventBus
from callcenter.core.store import AsyncCampaignTables, AttemptRecord, CampaignRecord
from compliance.dial_case import DialCase, DialDecision
from compliance.dial_facts import DialFacts, complete_case
from compliance.dialing_rules import SNAPSHOT_STALE_OR_MISSING, decide
from outbound.abandonment import MAX_RATE, WINDOW, Abandonment
from outbound.campaign_news import CampaignNews
from outbound.campaign_spec import Campaign
from outbound.next_allowed import TIME_BOUND, next_allowed
from outbound.pacing import CallPacer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: How long telemarketing attempts wait while the National DNC snapshot is stale.
SNAPSHOT_RETRY = timedelta(hours=1)
#: The smallest pacing bucket, in calls: a pass up to half an interval late keeps
#: the pace, and two calls of a campaign are never closer than half an interval.
MIN_BURST = 1.5


class CampaignScheduler:
    """Dials the running campaigns' due attempts on one node."""

    def __init__(self, tables: AsyncCampaignTables, calls: OutboundCalls,
                 facts: Callable[[], DialFacts], *, node: str, clock: Clock,
                 poll_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic,
                 events: EventBus | None = None) -> None:
        """``facts`` gives the dialing rules' facts (called on a worker thread
        before each check: it may read the store); ``clock`` is the rules'
        and the store's time (UTC, aware); ``monotonic`` the pacers';
        ``events`` the bus the campaign news goes to (None: none is sent)."""
        self.tables = tables
        self.calls = calls
        self.facts = facts
        self.node = node
        self.clock = clock
        self.poll_s = poll_s
        self.monotonic = monotonic
        self._pacers: dict[str, CallPacer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting = 0  # claimed here, not yet handed to the node
        self._wake = asyncio.Event()
        self._claiming = True
        self._loop_task: asyncio.Task[None] | None = None
        self._warned: set[tuple[str, str]] = set()
        self.news = CampaignNews(events, node)
        self._states: dict[str, str] = {}  # each campaign's state at the last pass
        self._done: set[str] = set()  # campaigns announced finished, until a claim
        # One abandoned call at a time counts and is stored: two finishing together
        # would each count the other out and neither pause the campaign.
        self._abandoned = asyncio.Lock()

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        """Run passes in the background until `stop`."""
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="campaigns")

    def stop_claiming(self) -> None:
        """Claim nothing more (the node drains); calls under way go on."""
        self._claiming = False
        self._wake.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the passes and wait up to ``timeout`` for attempts under way to
        be written (their calls end when the node stops); the rest are left
        claimed, for `recover` after a restart."""
        self.stop_claiming()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()

    @property
    def in_progress(self) -> int:
        """Attempts of this node being checked, dialled or written now."""
        return len(self._tasks)

    async def _run(self) -> None:
        while self._claiming:
            self._wake.clear()  # before the pass: a call ending during it wakes the next
            try:
                pause = await self.run_pass()
            except Exception:
                log.exception("campaign pass failed; trying again in %.1f s", self.poll_s)
                pause = self.poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    # -- recovery ------------------------------------------------------------------
    async def recover(self, nodes: Sequence[str]) -> int:
        """Settle what ``nodes`` (dead, or this node's earlier life) left claimed;
        returns how many attempts were settled."""
        settled = 0
        campaigns: dict[str, Campaign] = {}
        for record in await self.tables.campaigns():
            with contextlib.suppress(ValueError):
                campaigns[record.name] = Campaign.from_record(record)
        now = self.clock()
        for node in nodes:
            for attempt in await self.tables.unfinished(node):
                settled += 1
                if attempt.dialed_at is None:
                    await self.tables.release(attempt.id)
                    continue
                campaign = campaigns.get(attempt.campaign)
                retry = None if campaign is None else self._retry_at(
                    campaign, "unknown", attempt.attempt_no, now)
                await self._finish(attempt, "unknown", now, retry_at=retry,
                                   result_detail=f"node {node} died during the call")
                log.warning("attempt %d (%s, %s) was under way on node %s when it died: "
                            "unknown%s", attempt.id, attempt.campaign, attempt.number, node,
                            f", retry at {retry:%Y-%m-%d %H:%M:%S} UTC" if retry else "")
        return settled

    # -- one pass ------------------------------------------------------------------
    async def run_pass(self) -> float:
        """Claim and start what is due now; returns seconds until the next pass."""
        pause = self.poll_s
        if not self._claiming:
            return pause
        now = self.clock()
        for record in await self.tables.campaigns():
            await self._note_state(record)
            if record.state != "running":
                continue
            try:
                campaign = Campaign.from_record(record)
            except ValueError as exc:
                self._warn_once(record.name, f"cannot run campaign {record.name}: {exc}")
                continue
            problem = self.calls.cannot_dial(campaign.caller_id, campaign.trunk, campaign.flow)
            if problem is not None:
                self._warn_once(campaign.name, f"campaign {campaign.name} not dialled: {problem}")
                continue
            if now >= campaign.ends_at():
                expired = await self.tables.expire_open(campaign.name, now)
                if expired:
                    log.info("campaign %s ended (%s): %d attempt(s) expired", campaign.name,
                             campaign.active_until, expired)
                    self._done.add(campaign.name)
                    await self.news.state(campaign.name, "running", "finished",
                                          reason="active_dates_ended", expired=expired,
                                          detail=f"active until {campaign.active_until}")
                continue
            if not campaign.is_active(now):
                continue
            pause = min(pause, await self._claim(campaign, now))
        return pause

    async def _note_state(self, record: CampaignRecord) -> None:
        """Publish a state change (made by a command, or by another node) seen
        since the last pass; a campaign's first sight is no change."""
        seen = self._states.get(record.name)
        self._states[record.name] = record.state
        if seen is None or seen == record.state:
            return
        change = {"running": "resumed" if seen == "paused" else "started",
                  "paused": "paused"}.get(record.state, record.state)
        log.info("campaign %s %s (was %s)", record.name, change, seen)
        await self.news.state(record.name, record.state, change, changed_at=record.updated_at,
                              detail=f"seen at a pass of this node; was {seen}")

    async def _claim(self, campaign: Campaign, now: datetime) -> float:
        tick = self.monotonic()
        pacer = self._pacers.get(campaign.name)
        if pacer is None:
            # Bursts of at most a tenth of a second's calls: spread, yet claimed in
            # batches. Never below MIN_BURST: with a bucket of one call, every pass
            # that comes late (the store, the SIP thread) lost its lateness, and a
            # node held 87 % of 5 calls/s (bench/campaign_throughput.py).
            pacer = self._pacers[campaign.name] = CallPacer(
                campaign.calls_per_s, tick, burst=max(campaign.calls_per_s / 10, MIN_BURST),
                tokens=campaign.calls_per_s / 10)
        elif pacer.rate != campaign.calls_per_s:
            pacer.set_rate(campaign.calls_per_s, tick)
        free = await self.calls.free_slots() - self._starting
        limit = min(free, pacer.available(tick))
        if limit < 1:
            return self.poll_s if free < 1 else max(pacer.wait(tick), 0.01)
        claimed = await self.tables.claim_due(campaign.name, now, node=self.node, limit=limit,
                                              max_in_flight=campaign.max_concurrent)
        if claimed:
            self._done.discard(campaign.name)
        for attempt in claimed:
            pacer.take(tick)
            self._starting += 1
            task = asyncio.get_running_loop().create_task(
                self._attempt(campaign, attempt), name=f"attempt-{attempt.id}")
            self._tasks.add(task)
            task.add_done_callback(self._attempt_done)
        return max(pacer.wait(tick), 0.01) if claimed else self.poll_s

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot (or the concurrency limit) may have freed

    # -- one attempt ---------------------------------------------------------------
    async def _attempt(self, campaign: Campaign, attempt: AttemptRecord) -> None:
        placed = False
        try:
            now = self.clock()
            case, decision, from_store = await asyncio.to_thread(
                self._check, campaign, attempt.number, now)
            trail = {**decision.to_dict(), "checked_at": now.isoformat(),
                     "from_store": list(from_store), "node": self.node}
            if not decision.allowed:
                pacer = self._pacers.get(campaign.name)
                if pacer is not None:
                    pacer.refund()  # nothing was dialled: the pace is for dials
                await self._refused(campaign, attempt, case, decision, trail)
                return
            dialed = self.clock()
            await self.tables.mark_dialing(attempt.id, dialed, trail)
            self._starting -= 1
            placed = True
            try:
                result = await self.calls.place(self._call_for(campaign, attempt))
            except Exception as exc:  # the port must not raise; a bug must not lose the attempt
                log.exception("attempt %d: placing the call failed", attempt.id)
                result = DialResult(DialOutcome.FAILED, detail=f"{type(exc).__name__}: {exc}")
            await self._finished(campaign, attempt, result, trail, dialed)
        except Exception:
            log.exception("attempt %d of %s to %s failed", attempt.id, campaign.name,
                          attempt.number)
            await self._settle_broken(campaign, attempt, placed)
        finally:
            if not placed:
                self._starting -= 1

    async def _settle_broken(self, campaign: Campaign, attempt: AttemptRecord,
                             placed: bool) -> None:
        """Hand back (no INVITE went out) or finish as ``unknown`` an attempt whose
        handling failed, so it does not hold a place in flight until a restart;
        if the store refuses this too, a restart's `recover` settles it."""
        try:
            if not placed:
                await self.tables.release(attempt.id)
                return
            now = self.clock()
            await self._finish(attempt, "unknown", now,
                               retry_at=self._retry_at(campaign, "unknown", attempt.attempt_no,
                                                       now),
                               result_detail="the dialer failed during the attempt")
        except Exception:
            log.exception("attempt %d left claimed for recovery at the next start", attempt.id)

    def _check(self, campaign: Campaign, number: str,
               now: datetime) -> tuple[DialCase, DialDecision, tuple[str, ...]]:
        given: dict[str, Any] = {"callee_e164": number, "now_utc": now,
                                 "message_kind": campaign.message_kind,
                                 "campaign": campaign.name}
        case, from_store = complete_case(given, self.facts())
        return case, decide(case), from_store

    async def _refused(self, campaign: Campaign, attempt: AttemptRecord, case: DialCase,
                       decision: DialDecision, trail: dict[str, Any]) -> None:
        reason = decision.reason.value
        if decision.detail.startswith(SNAPSHOT_STALE_OR_MISSING):
            # The company's registry download is missing or stale, not the callee's
            # listing: wait for a fresh import instead of giving the contact up.
            retry = self.clock() + SNAPSHOT_RETRY
            trail["deferred_to"] = retry.isoformat()
            await self.tables.defer(attempt.id, retry, trail)
            self._warn_once(campaign.name, f"campaign {campaign.name}: telemarketing waits for "
                            f"a fresh National DNC snapshot ({decision.detail})")
            return
        if decision.reason in TIME_BOUND:
            later = await asyncio.to_thread(next_allowed, case)
            if later is not None and later < campaign.ends_at():
                trail["deferred_to"] = later.isoformat()
                await self.tables.defer(attempt.id, later, trail)
                log.info("attempt %d to %s deferred to %s UTC: %s", attempt.id, attempt.number,
                         f"{later:%Y-%m-%d %H:%M}", reason)
                return
            await self._finish(attempt, "expired", self.clock(), reason=reason, decision=trail,
                               result_detail=f"{reason}: no allowed time before the campaign "
                                             "ends")
            return
        await self._finish(attempt, "blocked", self.clock(), reason=reason, decision=trail,
                           result_detail=f"{reason}: {decision.detail}")
        log.info("attempt %d to %s blocked: %s (%s)", attempt.id, attempt.number, reason,
                 decision.rule_id)

    def _call_for(self, campaign: Campaign, attempt: AttemptRecord) -> OutboundCall:
        contact = {**attempt.fields, "name": attempt.contact_name, "number": attempt.number,
                   **campaign.call_facts(), "attempt": attempt.attempt_no}
        return OutboundCall(number=attempt.number, trunk=campaign.trunk,
                            ring_timeout_s=campaign.ring_timeout_s, flow=campaign.flow,
                            contact=contact)

    async def _finished(self, campaign: Campaign, attempt: AttemptRecord, result: DialResult,
                        trail: dict[str, Any], dialed: datetime) -> None:
        if result.outcome is DialOutcome.NOT_PLACED:
            log.debug("attempt %d not placed (%s): released", attempt.id, result.detail)
            await self.tables.release(attempt.id)
            return
        ended = self.clock()
        outcome = result.outcome.value
        retry = self._retry_at(campaign, outcome, attempt.attempt_no, ended)
        detail = result.result_detail or result.detail or None
        if retry is None and result.result is None and outcome != "answered":
            detail = f"{result.reason or outcome} after {attempt.attempt_no} attempt(s)"
        await self._finish(attempt, outcome, ended, sip_code=result.sip_code,
                           reason=result.reason, retry_at=retry, result_detail=detail,
                           call_id=result.call_id, trail=trail, dialed_at=dialed,
                           result=result.result, greeted_at=result.greeted_at,
                           abandoned=result.abandoned)
        log.info("attempt %d to %s: %s (SIP %s)%s", attempt.id, attempt.number, outcome,
                 result.sip_code, f"; next at {retry:%Y-%m-%d %H:%M:%S} UTC" if retry else "")

    async def _finish(self, attempt: AttemptRecord, outcome: str, at: datetime, *,
                      sip_code: int | None = None, reason: str | None = None,
                      decision: dict[str, Any] | None = None, retry_at: datetime | None = None,
                      result_detail: str | None = None, call_id: str | None = None,
                      trail: dict[str, Any] | None = None, dialed_at: datetime | None = None,
                      result: str | None = None, greeted_at: datetime | None = None,
                      abandoned: bool | None = None) -> None:
        """Close the attempt in the store (``decision``: a trail to store with
        it; ``trail``: the one stored when it was dialled), then publish it; when
        it was the campaign's last open attempt, publish the campaign finished.

        An abandoned live answer that takes the campaign's abandonment rate over
        its limit (`outbound.abandonment`) pauses the campaign; the attempt's
        trail keeps why (``paused_campaign``)."""
        rate = None
        async with self._abandoned if abandoned else contextlib.nullcontext():
            if abandoned:
                rate = await self._abandonment(attempt.campaign, at)
                if rate.over_limit:
                    decision = {**(decision or trail or attempt.decision or {}),
                                "paused_campaign": {"at": at.isoformat(),
                                                    "reason": "abandonment_rate",
                                                    **rate.to_dict()}}
            await self.tables.finish(attempt.id, outcome, at, sip_code=sip_code, reason=reason,
                                     decision=decision, retry_at=retry_at,
                                     result_detail=result_detail, call_id=call_id,
                                     result=result, greeted_at=greeted_at, abandoned=abandoned)
        await self.news.attempt(attempt, outcome, at, reason=reason, sip_code=sip_code,
                                decision=decision or trail, next_attempt_at=retry_at,
                                result=result, result_detail=result_detail, call_id=call_id,
                                dialed_at=dialed_at, greeted_at=greeted_at, abandoned=abandoned)
        if rate is not None and rate.over_limit:
            await self._pause_for_abandonment(attempt.campaign, rate, at)
        if retry_at is None and self.news.bus is not None:
            await self._maybe_done(attempt.campaign)

    async def _abandonment(self, campaign: str, at: datetime) -> Abandonment:
        """The campaign's abandonment over the window ending at ``at``, with the
        abandoned attempt being finished counted in."""
        abandoned, live = await self.tables.abandonment(campaign, at - WINDOW)
        return Abandonment(abandoned + 1, live + 1)

    async def _pause_for_abandonment(self, campaign: str, rate: Abandonment,
                                     at: datetime) -> None:
        await self.tables.set_state(
            campaign, "paused", at,
            reason=(f"abandonment rate over {MAX_RATE * 100:.0f} %: {rate.describe()}"
                    f" at {at.isoformat()}"))
        self._states[campaign] = "paused"  # this node's own change: not a command's
        log.error("campaign %s paused: its abandonment rate is over %.0f %%: %s; resume it "
                  "with `callcenter campaign resume %s` once the node greets in time",
                  campaign, MAX_RATE * 100, rate.describe(), campaign)
        await self.news.state(campaign, "paused", "paused", reason="abandonment_rate",
                              detail=rate.describe(), changed_at=at,
                              abandonment=rate.to_dict())

    async def _maybe_done(self, campaign: str) -> None:
        if campaign in self._done or await self.tables.has_open(campaign):
            return
        self._done.add(campaign)
        log.info("campaign %s: every contact has its result", campaign)
        await self.news.state(campaign, "running", "finished", reason="all_contacts_done")

    @staticmethod
    def _retry_at(campaign: Campaign, outcome: str, attempt_no: int,
                  ended: datetime) -> datetime | None:
        retry = campaign.policy.next_attempt_at(outcome, attempt_no, ended)
        return retry if retry is not None and retry < campaign.ends_at() else None

    def _warn_once(self, campaign: str, message: str) -> None:
        if (campaign, message) not in self._warned:
            self._warned.add((campaign, message))
            log.error("%s", message)
