"""The campaign scheduler on a real SQLite store, a fake clock and a fake call port:
outcomes and retries per policy, refusals stored or deferred, pacing, and a
node killed with SIGKILL mid-campaign losing no attempt and dialling none twice."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.store import AsyncStore, ContactInput, Store
from compliance.store_dial_facts import StoreDialFacts
from outbound.scheduler import CampaignScheduler
from tests.core.test_campaign_store import campaign_values

T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
A, B, C, D = "+12125550141", "+12125550142", "+12125550143", "+12125550144"
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """The scheduler's wall clock and monotonic clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class FakeCalls:
    """`OutboundCalls` answering from a script per number; records every dial."""

    clock: Clock
    script: dict[str, list[DialOutcome]] = field(default_factory=dict)
    slots: int = 4
    dialed: list[tuple[str, datetime]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    active: int = 0
    reasons: dict[DialOutcome, str] = field(default_factory=dict)

    async def free_slots(self) -> int:
        return self.slots - self.active

    async def place(self, call: OutboundCall) -> DialResult:
        self.dialed.append((call.number, self.clock.now))
        self.active += 1
        try:
            if self.gate is not None:
                await asyncio.wait_for(self.gate.wait(), 5)
            outcome = self.script.get(call.number, [DialOutcome.ANSWERED]).pop(0)
        finally:
            self.active -= 1
        codes = {DialOutcome.ANSWERED: 200, DialOutcome.BUSY: 486, DialOutcome.NO_ANSWER: 408}
        return DialResult(outcome, codes.get(outcome, 500), call_id=f"call-{len(self.dialed)}",
                          reason=self.reasons.get(outcome))

    def cannot_dial(self, caller_id: str, trunk: str, flow: str) -> str | None:
        return None if trunk == "provider" else f"no trunk {trunk}"


@pytest.fixture
async def store(url: str) -> AsyncIterator[AsyncStore]:
    """The store on SQLite and on PostgreSQL (claims there: FOR UPDATE SKIP LOCKED)."""
    s = AsyncStore(Store(url))
    await s.migrate()
    yield s
    await s.close()


def _setup(store: Store, numbers: list[str], *, consent: str = "express",
           first_due: datetime = T0, **changes: Any) -> None:
    retry = {"busy": {"delays_s": [600], "max_attempts": 3},
             "no_answer": {"delays_s": [3600], "max_attempts": 2}}
    values = campaign_values(message_kind="informational", max_concurrent=10,
                             calls_per_s=100.0, retry=retry)
    values.update(changes)
    store.campaigns.put_campaign("c1", values, T0)
    store.campaigns.import_contacts(
        "c1", [ContactInput(n, i + 2, fields={"appointment": f"slot {i}"}, consent_kind=consent,
                            consent_date=T0 - timedelta(days=30) if consent != "none" else None)
               for i, n in enumerate(numbers)], at=T0, first_due=first_due, evidence="c.csv")
    store.campaigns.set_state("c1", "running", T0)


def _scheduler(store: AsyncStore, calls: FakeCalls, clock: Clock,
               node: str = "n1") -> CampaignScheduler:
    return CampaignScheduler(store.campaigns, calls, lambda: StoreDialFacts(store.store, None),
                             node=node, clock=lambda: clock.now, monotonic=lambda: clock.mono)


async def _settle(scheduler: CampaignScheduler) -> None:
    for _ in range(500):
        if not scheduler.in_progress:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("attempts still under way after 5 s")


async def _pass(scheduler: CampaignScheduler) -> float:
    pause = await scheduler.run_pass()
    await _settle(scheduler)
    return pause


async def test_outcomes_retries_and_refusals_follow_the_policy(store: AsyncStore) -> None:
    _setup(store.store, [A, B, C, D])
    store.store.dnc.add(D, source="cli", actor="test")
    clock = Clock(T0)
    calls = FakeCalls(clock, {B: [DialOutcome.BUSY, DialOutcome.ANSWERED],
                              C: [DialOutcome.NO_ANSWER, DialOutcome.NO_ANSWER]})
    scheduler = _scheduler(store, calls, clock)
    await _pass(scheduler)
    assert sorted(n for n, _ in calls.dialed) == [A, B, C]  # D is on the internal list
    clock.advance(599)
    await _pass(scheduler)
    assert len(calls.dialed) == 3  # B's retry is not due yet
    clock.advance(1)
    await _pass(scheduler)
    assert calls.dialed[3] == (B, T0 + timedelta(minutes=10))
    clock.advance(3000)
    await _pass(scheduler)
    assert calls.dialed[4] == (C, T0 + timedelta(hours=1))
    clock.advance(86400)
    await _pass(scheduler)
    assert len(calls.dialed) == 5  # C had its 2 attempts

    tables = store.store.campaigns
    counts = tables.counts("c1")
    assert (counts["answered"], counts["busy"], counts["no_answer"], counts["blocked"],
            counts["pending"], counts["in_flight"]) == (2, 1, 2, 1, 0, 0)
    [blocked] = tables.attempts("c1", number=D)
    assert (blocked.outcome, blocked.reason, blocked.dialed_at) == ("blocked", "internal_dnc",
                                                                    None)
    assert blocked.decision is not None and blocked.decision["rule_id"] == "dnc.internal"
    b1, b2 = tables.attempts("c1", number=B)
    assert (b1.outcome, b1.sip_code, b2.attempt_no, b2.outcome, b2.sip_code) == (
        "busy", 486, 2, "answered", 200)
    assert b1.call_id is not None and b1.call_id.startswith("call-")
    assert b1.decision is not None and b1.decision["reason"] == "ok"
    assert tables.dial_times(C, T0 - timedelta(days=1)) == [T0, T0 + timedelta(hours=1)]


async def test_a_machine_s_reason_is_stored_and_its_retries_follow_the_policy(
        store: AsyncStore) -> None:
    _setup(store.store, [A], retry={"machine": {"delays_s": [4 * 3600], "max_attempts": 2}})
    clock = Clock(T0)
    calls = FakeCalls(clock, {A: [DialOutcome.MACHINE, DialOutcome.MACHINE]},
                      reasons={DialOutcome.MACHINE: "machine_message_left"})
    scheduler = _scheduler(store, calls, clock)
    await _pass(scheduler)
    clock.advance(4 * 3600)
    await _pass(scheduler)
    assert [t for _, t in calls.dialed] == [T0, T0 + timedelta(hours=4)]
    tables = store.store.campaigns
    assert [(a.outcome, a.reason) for a in tables.attempts("c1")] == [
        ("machine", "machine_message_left")] * 2
    (contact,) = tables.contacts("c1")
    assert (contact.result, contact.result_detail) == (
        "machine", "machine_message_left after 2 attempt(s)")


async def test_no_consent_blocks_and_outside_the_hours_defers(store: AsyncStore) -> None:
    early = datetime(2026, 1, 13, 12, 30, tzinfo=UTC)  # 07:30 in New York
    _setup(store.store, [A], consent="express", first_due=early)
    store.store.campaigns.import_contacts(
        "c1", [ContactInput(B, 9)], at=T0, first_due=early, evidence="more.csv")
    clock = Clock(early)
    calls = FakeCalls(clock)
    scheduler = _scheduler(store, calls, clock)
    await _pass(scheduler)
    assert calls.dialed == []
    tables = store.store.campaigns
    [b] = tables.attempts("c1", number=B)
    assert (b.outcome, b.reason) == ("blocked", "no_consent")
    [a] = tables.attempts("c1", number=A)
    assert (a.outcome, a.deferrals, a.claimed_at) == (None, 1, None)
    assert a.next_due == datetime(2026, 1, 13, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert a.decision is not None and a.decision["reason"] == "calling_hours"
    clock.now = datetime(2026, 1, 13, 13, 0, tzinfo=UTC)
    await _pass(scheduler)
    assert calls.dialed == [(A, clock.now)]


async def test_healthcare_caps_defer_a_retry_by_a_day(store: AsyncStore) -> None:
    _setup(store.store, [A], consent="none", message_kind="healthcare_reminder")
    clock = Clock(T0)
    calls = FakeCalls(clock, {A: [DialOutcome.BUSY, DialOutcome.ANSWERED]})
    scheduler = _scheduler(store, calls, clock)
    await _pass(scheduler)
    clock.advance(600)
    await _pass(scheduler)  # the retry is due, but 1 call per 24 h: deferred
    assert calls.dialed == [(A, T0)]
    retry = store.store.campaigns.attempts("c1", number=A)[1]
    assert retry.next_due == T0 + timedelta(hours=24, microseconds=1)
    assert retry.decision is not None and retry.decision["reason"] == "frequency_cap"
    clock.now = retry.next_due
    await _pass(scheduler)
    assert calls.dialed[1] == (A, retry.next_due)


async def test_telemarketing_waits_for_a_fresh_registry_snapshot(store: AsyncStore) -> None:
    _setup(store.store, [A], consent="express_written", message_kind="telemarketing")
    clock = Clock(T0)
    calls = FakeCalls(clock)
    await _pass(_scheduler(store, calls, clock))  # no snapshot was ever imported
    [a] = store.store.campaigns.attempts("c1")
    assert calls.dialed == [] and (a.outcome, a.next_due, a.deferrals) == (
        None, T0 + timedelta(hours=1), 1)
    assert a.decision is not None and a.decision["rule_id"] == "dnc.national.snapshot_missing"


async def _until(condition: Any, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within 5 s: {what}")


async def test_pacing_concurrency_and_free_slots(store: AsyncStore) -> None:
    _setup(store.store, [A, B, C, D], calls_per_s=2.0, max_concurrent=2)
    clock = Clock(T0)
    calls = FakeCalls(clock, gate=asyncio.Event(), slots=4)
    scheduler = _scheduler(store, calls, clock)
    assert await scheduler.run_pass() == pytest.approx(0.5)  # one call, then wait 0.5 s
    await _until(lambda: len(calls.dialed) == 1, "the first call")
    assert await scheduler.run_pass() == pytest.approx(0.5)  # the pacer says not yet
    clock.advance(0.5)
    await scheduler.run_pass()
    await _until(lambda: len(calls.dialed) == 2, "the second call")
    clock.advance(0.5)
    await scheduler.run_pass()  # max_concurrent 2 reached: nothing claimed
    assert store.store.campaigns.counts("c1")["in_flight"] == 2
    calls.gate.set()  # type: ignore[union-attr]
    await _settle(scheduler)
    assert len(calls.dialed) == 2
    calls.gate = None
    calls.slots = 1
    clock.advance(0.5)
    await _pass(scheduler)  # one free slot on the node: one call
    assert len(calls.dialed) == 3


async def test_a_failing_check_or_call_port_does_not_hold_the_attempt(
        store: AsyncStore) -> None:
    _setup(store.store, [A, B])
    clock = Clock(T0)
    calls = FakeCalls(clock)
    broken = {"check": True}

    def facts() -> StoreDialFacts:
        if broken["check"]:
            raise RuntimeError("facts unavailable")
        return StoreDialFacts(store.store, None)

    scheduler = CampaignScheduler(store.campaigns, calls, facts, node="n1",
                                  clock=lambda: clock.now, monotonic=lambda: clock.mono)
    await _pass(scheduler)
    counts = store.store.campaigns.counts("c1")
    assert calls.dialed == [] and (counts["pending"], counts["in_flight"]) == (2, 0)
    broken["check"] = False

    async def raising(call: OutboundCall) -> DialResult:
        calls.dialed.append((call.number, clock.now))
        raise RuntimeError("port bug")

    calls.place = raising  # type: ignore[method-assign]
    clock.advance(1)
    await _pass(scheduler)
    assert sorted(n for n, _ in calls.dialed) == [A, B]
    counts = store.store.campaigns.counts("c1")
    assert (counts["failed"], counts["in_flight"]) == (2, 0)


async def test_a_trunk_that_cannot_carry_the_caller_id_dials_nothing(
        store: AsyncStore) -> None:
    _setup(store.store, [A], trunk="other")
    clock = Clock(T0)
    calls = FakeCalls(clock)
    await _pass(_scheduler(store, calls, clock))
    assert calls.dialed == [] and store.store.campaigns.counts("c1")["pending"] == 1


_CLAIMER = textwrap.dedent("""
    import sys, time
    from datetime import datetime, UTC
    from callcenter.core.store import Store
    store = Store(sys.argv[1])
    now = datetime.fromisoformat(sys.argv[2])
    first, second = store.campaigns.claim_due("c1", now, node="dead", limit=2,
                                              max_in_flight=10)
    store.campaigns.mark_dialing(first.id, now, {"reason": "ok"})  # its INVITE went out
    print(first.number, second.number, flush=True)
    time.sleep(60)
""")


def _claim_then_die(url: str) -> tuple[str, str]:
    """A node in a subprocess claims two attempts, stamps one dialled, and is
    killed with SIGKILL; returns the dialled number and the claimed one."""
    child = subprocess.Popen([sys.executable, "-c", _CLAIMER, url, T0.isoformat()],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 30)
        assert ready, "the claiming node did not start"
        dialed, claimed = child.stdout.readline().split()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    return dialed, claimed


async def test_a_node_killed_mid_campaign_loses_nothing_and_dials_nothing_twice(
        store: AsyncStore) -> None:
    retry = {"failed": {"delays_s": [600], "max_attempts": 1}}
    _setup(store.store, [A, B, C], retry=retry)
    address = store.store.engine.url.render_as_string(hide_password=False)
    dialed, claimed = await asyncio.to_thread(_claim_then_die, address)

    clock = Clock(T0 + timedelta(minutes=1))
    calls = FakeCalls(clock)
    scheduler = _scheduler(store, calls, clock, node="n2")
    await _pass(scheduler)  # the dead node's claims are not touched before recovery
    assert sorted(n for n, _ in calls.dialed) == sorted({A, B, C} - {dialed, claimed})
    assert await scheduler.recover(["dead"]) == 2
    await _pass(scheduler)
    clock.advance(86400)
    await _pass(scheduler)
    # Every number dialled once: the claimed-but-undialled one now, the one whose
    # INVITE went out never again (unknown, and `failed` allows 1 attempt).
    assert sorted(n for n, _ in calls.dialed) == sorted({A, B, C} - {dialed})
    tables = store.store.campaigns
    [lost] = tables.attempts("c1", number=dialed)
    assert (lost.outcome, lost.dialed_at) == ("unknown", T0)
    assert tables.dial_times(dialed, T0 - timedelta(days=1)) == [T0]  # counts for the caps
    counts = tables.counts("c1")
    assert (counts["unknown"], counts["answered"], counts["pending"], counts["in_flight"]) == (
        1, 2, 0, 0)
