"""Campaign scheduler overhead: attempts per second through the durable path, and pacing held.

Runs the real `outbound.scheduler.CampaignScheduler` on a real store (SQLite
in a temporary folder, or ``--store-url``) with the dialing rules and their
store-backed facts, but an instant call port (every call "answered" at
once), so what is measured is the scheduler itself: per attempt a claim in
the store, the rules' facts read from the store (internal DNC, consent,
attempt log, address) and the decision, the ``dialed_at`` stamp, and the
finish. The clock is fixed inside the calling hours.

- ``attempts_per_s`` / ``overhead_ms_per_attempt``: a campaign of
  ``--contacts`` contacts, unpaced (``calls_per_s`` 1000, 200 in flight);
- ``rules_check_ms``: the facts lookup plus the decision alone, per number;
- ``paced_target_per_s`` / ``paced_achieved_per_s``: a second campaign paced
  at ``--rate`` calls per second, the rate the scheduler actually held.

Prints one JSON line; ``pass`` (exit 0) when every attempt ended answered
and the paced rate held within 20 % of its target.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import json_stdout, setup_logging, write_result

from callcenter.core.call_control import DialOutcome, DialResult, OutboundCall
from callcenter.core.store import AsyncStore, ContactInput, Store
from compliance.dial_case import MessageKind
from compliance.dial_facts import complete_case
from compliance.dialing_rules import decide
from compliance.store_dial_facts import StoreDialFacts
from outbound.scheduler import CampaignScheduler

log = logging.getLogger("bench.campaign_scheduler")
NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # a Tuesday, 13:00 in New York
AREAS = ("212", "312", "415", "713", "206", "305", "617", "404")


class InstantCalls:
    """Every call answered at once; counts when each was placed."""

    def __init__(self) -> None:
        self.placed: list[float] = []

    async def free_slots(self) -> int:
        return 200

    async def place(self, call: OutboundCall) -> DialResult:
        self.placed.append(time.monotonic())
        return DialResult(DialOutcome.ANSWERED, 200)

    def cannot_dial(self, caller_id: str, trunk: str, flow: str) -> str | None:
        return None


def _numbers(count: int, offset: int) -> list[str]:
    return [f"+1{AREAS[i % len(AREAS)]}555{(offset + i // len(AREAS)) % 10000:04d}"
            for i in range(count)]


def _campaign(store: Store, name: str, numbers: list[str], rate: float) -> None:
    store.campaigns.put_campaign(name, {
        "flow": "clinic", "message_kind": "informational", "caller_id": "+12025550100",
        "trunk": "provider", "business_name": "Bench", "callback_number": "+12025550100",
        "max_concurrent": 200, "calls_per_s": rate, "ring_timeout_s": 25.0, "retry": {},
        "active_from": date(2026, 1, 1), "active_until": date(2026, 12, 31),
        "time_zone": "America/New_York", "contact_fields": [], "source": "bench"}, NOW)
    store.campaigns.import_contacts(
        name, [ContactInput(n, i + 2, consent_kind="express",
                            consent_date=NOW - timedelta(days=30)) for i, n in enumerate(numbers)],
        at=NOW, first_due=NOW, evidence="bench")
    store.campaigns.set_state(name, "running", NOW)


async def _run(store: AsyncStore, name: str, total: int,
               timeout: float) -> tuple[float, list[float]]:
    calls = InstantCalls()
    scheduler = CampaignScheduler(store.campaigns, calls,
                                  lambda: StoreDialFacts(store.store, None),
                                  node="bench", clock=lambda: NOW, poll_s=0.05)
    started = time.monotonic()
    scheduler.start()
    try:
        # Polled in memory: a store query here would run on the loop and slow what is measured.
        while len(calls.placed) < total or scheduler.in_progress:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{name}: not done in {timeout} s")
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        await scheduler.stop()
    answered = store.store.campaigns.counts(name).get("answered", 0)
    if answered != total:
        raise RuntimeError(f"{name}: {answered} of {total} attempts answered")
    return elapsed, calls.placed


async def bench(url: str, contacts: int, rate: float, paced: int) -> dict[str, Any]:
    store = AsyncStore(Store(url))
    await store.migrate()
    try:
        _campaign(store.store, "unpaced", _numbers(contacts, 0), 1000.0)
        _campaign(store.store, "paced", _numbers(paced, 5000), rate)
        store.store.campaigns.set_state("paced", "paused", NOW)
        facts = StoreDialFacts(store.store, None)
        sample = _numbers(200, 0)
        began = time.perf_counter()
        for number in sample:
            case, _ = complete_case({"callee_e164": number, "now_utc": NOW,
                                     "campaign": "unpaced",
                                     "message_kind": MessageKind.INFORMATIONAL}, facts)
            decide(case)
        rules_ms = (time.perf_counter() - began) / len(sample) * 1000
        elapsed, _ = await _run(store, "unpaced", contacts, timeout=600)
        store.store.campaigns.set_state("paced", "running", NOW)
        _, placed = await _run(store, "paced", paced, timeout=paced / rate * 3 + 30)
        achieved = (len(placed) - 1) / (placed[-1] - placed[0]) if len(placed) > 1 else 0.0
    finally:
        await store.close()
    return {"bench": "campaign_scheduler", "pass": achieved >= 0.8 * rate,
            "target": "paced rate within 20 % of --rate", "store": url.split(":", 1)[0],
            "contacts": contacts, "attempts_per_s": round(contacts / elapsed, 1),
            "overhead_ms_per_attempt": round(elapsed / contacts * 1000, 2),
            "rules_check_ms": round(rules_ms, 2), "paced_target_per_s": rate,
            "paced_achieved_per_s": round(achieved, 2), "paced_calls": paced}


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--contacts", type=int, default=2000)
    arguments.add_argument("--rate", type=float, default=20.0, help="paced calls per second")
    arguments.add_argument("--paced-calls", type=int, default=200)
    arguments.add_argument("--store-url", help="default: SQLite in a temporary folder")
    args = arguments.parse_args()
    setup_logging()
    logging.getLogger("outbound.scheduler").setLevel(logging.WARNING)
    out = json_stdout()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = asyncio.run(bench(url, args.contacts, args.rate, args.paced_calls))
    write_result(out, result, ["bench", "pass", "attempts_per_s", "overhead_ms_per_attempt",
                               "paced_achieved_per_s"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
