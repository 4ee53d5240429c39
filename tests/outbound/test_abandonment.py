"""The abandonment rate on a real SQLite store: counted over 30 rolling days,
judged against at least 100 live answers, and a campaign over 3 % paused by
the scheduler with its reason kept, published and logged; ``campaign
status`` shows the rate, why it paused and the next allowed window, and
``export`` the results and every attempt's decision trail."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.store import AsyncStore, Store
from compliance.store_dial_facts import StoreDialFacts
from outbound.abandonment import Abandonment
from outbound.scheduler import CampaignScheduler
from tests.outbound.test_scheduler import T0, Clock, FakeCalls, _settle, _setup

NUMBERS = [f"+1212555{n:04d}" for n in range(200, 212)]


@pytest.mark.parametrize(("abandoned", "live", "over"), [
    (0, 0, False), (1, 1, False), (3, 10, False), (4, 10, True), (3, 99, False),
    (3, 100, False), (4, 100, True), (6, 200, False), (7, 200, True), (30, 1000, False),
    (31, 1000, True)])
def test_small_samples_are_judged_against_100_live_answers(abandoned: int, live: int,
                                                           over: bool) -> None:
    rate = Abandonment(abandoned, live)
    assert rate.over_limit is over
    assert rate.rate == (abandoned / live if live else None)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    """The store where ``callcenter ... --data-dir tmp_path/data`` finds it."""
    s = AsyncStore(Store(f"sqlite:///{tmp_path / 'data' / 'callcenter.db'}"))
    await s.migrate()
    yield s
    await s.close()


def _finish_live(store: Store, abandoned: list[bool | None],
                 at_offsets_days: list[float]) -> None:
    tables = store.campaigns
    claimed = tables.claim_due("c1", T0, node="n", limit=len(abandoned), max_in_flight=100)
    assert len(claimed) == len(abandoned)
    for attempt, flag, days in zip(claimed, abandoned, at_offsets_days, strict=True):
        at = T0 + timedelta(days=days)
        tables.mark_dialing(attempt.id, at, {"reason": "ok"})
        tables.finish(attempt.id, "answered" if flag is not None else "busy", at,
                      abandoned=flag, greeted_at=at + timedelta(seconds=3 if flag else 1)
                      if flag is not None else None)


def test_the_store_counts_live_answers_over_a_rolling_window(url: str) -> None:
    """On SQLite and PostgreSQL."""
    store = Store(url)
    store.migrate()
    _setup(store, NUMBERS[:6])
    # Two abandoned (one 31 days before the end of the window), three greeted, one busy.
    _finish_live(store, [True, True, False, False, False, None], [0, 31, 31, 31, 31, 31])
    tables = store.campaigns
    assert tables.abandonment("c1", T0) == (2, 5)
    assert tables.abandonment("c1", T0 + timedelta(days=1)) == (1, 4)
    assert tables.abandonment("c1", T0 + timedelta(days=31)) == (1, 4)  # closed: at T0+31
    assert tables.abandonment("c1", T0 + timedelta(days=32)) == (0, 0)
    assert tables.abandonment("other", T0) == (0, 0)
    store.close()


class Greeting(FakeCalls):
    """Every callee answers live; the numbers in ``late`` are greeted too late."""

    late: set[str]

    async def place(self, call: OutboundCall) -> DialResult:
        self.dialed.append((call.number, self.clock.now))
        late = call.number in self.late
        return DialResult(DialOutcome.ANSWERED, 200, call_id=f"call-{len(self.dialed)}",
                          result="confirmed", greeted_at=self.clock.now + timedelta(
                              seconds=2.5 if late else 0.6), abandoned=late)


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path / "data")])
    return result.exit_code, result.output


async def test_the_fourth_abandoned_call_pauses_the_campaign_with_its_reason(
        sqlite: AsyncStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _setup(sqlite.store, NUMBERS)  # 12 contacts, up to 10 at once
    clock = Clock(T0)
    calls = Greeting(clock, slots=10)
    calls.late = set(NUMBERS[:3])
    bus = InProcessEventBus()
    states = bus.subscribe("campaigns/c1/state")
    scheduler = CampaignScheduler(sqlite.campaigns, calls,
                                  lambda: StoreDialFacts(sqlite.store, None), node="n1",
                                  clock=lambda: clock.now, monotonic=lambda: clock.mono,
                                  events=bus)
    await scheduler.run_pass()
    await _settle(scheduler)
    tables = sqlite.store.campaigns
    record = tables.campaign("c1")
    assert record is not None and record.state == "running"  # 3 of 10: under 3 % of 100
    assert tables.abandonment("c1", T0 - timedelta(days=30)) == (3, 10)

    calls.late = set(NUMBERS[10:11])
    calls.slots = 1  # the 11th contact alone; the 12th stays pending
    clock.advance(60)
    with caplog.at_level(logging.ERROR, logger="outbound.scheduler"):
        await scheduler.run_pass()
        await _settle(scheduler)
    record = tables.campaign("c1")
    assert record is not None and record.state == "paused"
    assert "campaign c1 paused: its abandonment rate is over 3 %: 36.4 % (4 abandoned of " \
           "11 live answer(s) in 30 days)" in caplog.text
    async with asyncio.timeout(2):
        event = await anext(states)
    assert (event.data["state"], event.data["change"], event.data["reason"]) == (
        "paused", "paused", "abandonment_rate")
    assert event.data["abandonment"]["abandoned"] == 4 and event.node == "n1"
    [tipping] = [a for a in tables.attempts("c1") if a.number == NUMBERS[10]]
    assert tipping.decision is not None
    note = tipping.decision["paused_campaign"]
    assert (note["abandoned"], note["live_answers"], note["reason"]) == (
        4, 11, "abandonment_rate")
    assert tipping.decision["reason"] == "ok"  # the dial's own trail is kept beside it

    calls.slots = 10
    clock.advance(60)
    await scheduler.run_pass()
    await _settle(scheduler)
    assert len(calls.dialed) == 11  # nothing since the pause
    await bus.close()

    code, out = _cli(tmp_path, "campaign", "status", "c1", "--json",
                     "--now", (clock.now).isoformat())
    assert code == 0, out
    status = json.loads(out.splitlines()[-1])
    assert status["state"] == "paused"
    assert status["paused_reason"].startswith(
        "abandonment rate over 3 %: 36.4 % (4 abandoned of 11 live answer(s) in 30 days)")
    assert status["abandonment"] == {
        "abandoned": 4, "live_answers": 11, "rate": 0.3636, "max_rate": 0.03,
        "window_days": 30, "min_live_answers": 100, "over_limit": True}
    assert status["next_allowed"]["now"] is True  # the 12th contact, once resumed

    code, out = _cli(tmp_path, "campaign", "resume", "c1", "--now", clock.now.isoformat())
    assert code == 0 and "warning: c1: abandonment rate 36.4 % (4 abandoned of 11 live " \
                         "answer(s) in 30 days) is over the limit" in out, out
    code, out = _cli(tmp_path, "campaign", "status", "c1", "--json",
                     "--now", (clock.now).isoformat())
    assert json.loads(out.splitlines()[-1])["paused_reason"] is None  # running again

    code, out = _cli(tmp_path, "campaign", "export", "c1")
    rows = list(csv.DictReader(io.StringIO(out)))
    by_number = {r["number"]: r for r in rows}
    assert (by_number[NUMBERS[0]]["result"], by_number[NUMBERS[0]]["abandoned"]) == (
        "confirmed", "yes")
    assert by_number[NUMBERS[5]]["abandoned"] == "no"
    code, out = _cli(tmp_path, "campaign", "export", "c1", "--attempts")
    attempts = list(csv.DictReader(io.StringIO(out)))
    assert len(attempts) == 12 and attempts[-1]["outcome"] == ""  # the 12th is still due
    tipped = next(r for r in attempts if r["number"] == NUMBERS[10])
    assert (tipped["result"], tipped["abandoned"], tipped["decision"], tipped["rule_id"]) == (
        "confirmed", "yes", "ok", "ok")
    assert json.loads(tipped["trail"])["paused_campaign"]["abandoned"] == 4


def test_status_shows_the_next_allowed_window(sqlite: AsyncStore, tmp_path: Path) -> None:
    _setup(sqlite.store, NUMBERS[:2])
    # 21:30 in New York: the window opens at 08:00 local, 13:00 UTC the next day.
    evening = T0.replace(hour=2, minute=30) + timedelta(days=1)
    code, out = _cli(tmp_path, "campaign", "status", "c1", "--now", evening.isoformat())
    assert code == 0, out
    assert "next allowed window: 2026-01-14T13:00:00+00:00 (calling_hours:" in out, out
    code, out = _cli(tmp_path, "campaign", "status", "c1", "--json", "--now", T0.isoformat())
    window = json.loads(out.splitlines()[-1])["next_allowed"]
    assert (window["now"], window["at"], window["why_not_now"]) == (True, T0.isoformat(), None)
    sqlite.store.dnc.add(NUMBERS[0], source="cli", actor="test")
    sqlite.store.dnc.add(NUMBERS[1], source="cli", actor="test")
    code, out = _cli(tmp_path, "campaign", "status", "c1", "--now", T0.isoformat())
    assert "next allowed window: none" in out, out
    assert _cli(tmp_path, "campaign", "status", "c1", "--now", "tomorrow")[0] == 2
