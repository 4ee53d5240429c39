"""Campaign throughput on one node: dials per second held against sipp callees, rules checked.

A real engine (`callcenter serve`, no dialog flow: an answered campaign call
hears a 0.2 s greeting and is hung up) dials campaigns through trunks to
sipp callees over loopback. Each phase is its own campaign of ``--contacts``
contacts (informational, express consent, numbers spread over eight area
codes and so over four time zones), started with ``callcenter campaign
start`` while the node runs and followed in the store until every attempt
has ended. The dialer's clock is injected (``outbound.clock_start``:
tomorrow, 13:00 in New York), so the calling hours hold whenever it runs;
the dialing rules (internal DNC, consent, frequency caps, calling hours in
every candidate zone) are checked before every dial.

Phases (``--phases``, ``kind:calls_per_s``): ``busy`` callees refuse at
once with 486, so the node's 4 call slots never limit the pace; ``answer``
callees answer, hear the greeting and get the engine's BYE (about 0.3 s a
call), so 4 slots cap the pace near 4 / 0.3 s. Per phase:

- ``dials_per_s``: attempts over the span from the first ``dialed_at`` to
  the last (the dialer's clock runs at real speed), against the campaign's
  ``calls_per_s``; ``held`` is their ratio;
- ``claim_to_dial_ms`` p50/p95: from the pass's claim in the store to the
  ``dialed_at`` stamp (the claim, the rules' facts read from the store, the
  decision) per attempt: the scheduler's own cost before each INVITE;
- ``attempt_ms_p50``: from the claim to the stored outcome; with 4 slots
  (and ``max_concurrent_calls`` 4) a pace above 4 / this cannot hold;
- ``engine_cpu_ms_per_attempt``: the engine process's CPU over the phase
  (SIP, journal, store, scheduler), less what the idle node uses in the
  same time (``idle_cpu_share``, measured before the phases), divided by
  its attempts;
- the outcomes, which must all be the callee's (busy or answered).

Prints one JSON line; ``pass`` (exit 0) when every attempt of every phase
ended as its callee answers and each busy phase held its pace within 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from _common import json_stdout, setup_logging, write_result
from _proc import CLK_TCK, proc_cpu_ticks
from click.testing import CliRunner

from callcenter.cli import main as cli_main
from callcenter.core.store import Store
from tests.sip.test_outbound import Sipp
from tests.support.audio import tone, write_wav
from tests.support.processes import EngineProcess

log = logging.getLogger("bench.campaign_throughput")
CALLER_ID = "+12025550100"
AREAS = ("212", "312", "415", "713", "206", "305", "617", "404")
#: Tomorrow 18:00 UTC (13:00 in New York, 10:00 in Seattle): inside every zone's calling
#: hours, and after the contacts' first attempts fall due (at their import, wall clock).
CLOCK = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(),
                         UTC) + timedelta(hours=18)
HELD_TARGET = 0.9


def _numbers(count: int, offset: int) -> list[str]:
    return [f"+1{AREAS[i % len(AREAS)]}555{(offset + i // len(AREAS)) % 10000:04d}"
            for i in range(count)]


def _cli(engine: EngineProcess, *args: str) -> None:
    result = CliRunner().invoke(cli_main, [*args, "--config", str(engine.config),
                                           "--data-dir", str(engine.data_dir)])
    if result.exit_code != 0:
        raise RuntimeError(f"callcenter {' '.join(args)}: {result.output}")


def _create(engine: EngineProcess, work: Path, name: str, trunk: str, rate: float,
            numbers: list[str]) -> None:
    spec = {"name": name, "flow": "clinic", "message_kind": "informational",
            "caller_id": CALLER_ID, "trunk": trunk, "business_name": "Bench Clinic",
            "callback_number": CALLER_ID, "ring_timeout_s": 15,
            "pacing": {"max_concurrent_calls": 4, "calls_per_s": rate},
            "active": {"from": str(CLOCK.date() - timedelta(days=2)),
                       "until": str(CLOCK.date() + timedelta(days=2)),
                       "time_zone": "America/New_York"}}
    (work / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    given = (CLOCK - timedelta(days=30)).date()
    (work / f"{name}.csv").write_text("number,name,consent_kind,consent_date\n" + "".join(
        f"{n},Callee {i},express,{given}\n" for i, n in enumerate(numbers)))
    _cli(engine, "campaign", "create", str(work / f"{name}.yaml"))
    _cli(engine, "campaign", "import", name, str(work / f"{name}.csv"))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _idle_cpu_share(engine: EngineProcess, seconds: float = 3.0) -> float:
    assert engine.proc is not None
    ticks, began = proc_cpu_ticks(engine.proc.pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (proc_cpu_ticks(engine.proc.pid) - ticks) / CLK_TCK / (time.monotonic() - began)


async def _phase(engine: EngineProcess, store: Store, name: str, kind: str, rate: float,
                 contacts: int, timeout: float, idle: float) -> dict[str, Any]:
    assert engine.proc is not None
    ticks, began = proc_cpu_ticks(engine.proc.pid), time.monotonic()
    _cli(engine, "campaign", "start", name)
    deadline = time.monotonic() + timeout
    while True:
        counts = store.campaigns.counts(name)
        if not counts["pending"] and not counts["in_flight"]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: not done in {timeout:.0f} s: {counts}\n"
                               + engine.log[-3000:])
        await asyncio.sleep(0.2)
    cpu_s = (proc_cpu_ticks(engine.proc.pid) - ticks) / CLK_TCK
    busy_s = max(cpu_s - idle * (time.monotonic() - began), 0.0)
    _cli(engine, "campaign", "pause", name)
    attempts = [a for a in store.campaigns.attempts(name) if a.dialed_at is not None]
    dialed = sorted(a.dialed_at for a in attempts if a.dialed_at is not None)
    span = (dialed[-1] - dialed[0]).total_seconds() if len(dialed) > 1 else 0.0
    achieved = (len(dialed) - 1) / span if span > 0 else 0.0
    claim_ms = [(a.dialed_at - a.claimed_at).total_seconds() * 1000 for a in attempts
                if a.dialed_at is not None and a.claimed_at is not None]
    cycle_ms = [(a.ended_at - a.claimed_at).total_seconds() * 1000 for a in attempts
                if a.ended_at is not None and a.claimed_at is not None]
    outcomes = {k: v for k, v in counts.items()
                if k not in ("pending", "in_flight", "contacts")}
    expected = "busy" if kind == "busy" else "answered"
    return {"campaign": name, "callees": kind, "calls_per_s": rate, "contacts": contacts,
            "attempts": len(attempts), "outcomes": outcomes,
            "all_as_expected": outcomes == {expected: contacts},
            "dials_per_s": round(achieved, 2), "held": round(achieved / rate, 3),
            "claim_to_dial_ms_p50": round(statistics.median(claim_ms), 1) if claim_ms else None,
            "claim_to_dial_ms_p95": round(_percentile(claim_ms, 95), 1) if claim_ms else None,
            "attempt_ms_p50": round(statistics.median(cycle_ms), 1) if cycle_ms else None,
            "engine_cpu_ms_per_attempt": round(busy_s / max(len(attempts), 1) * 1000, 2),
            "engine_cpu_share": round(cpu_s / span, 3) if span > 0 else None}


async def bench(work: Path, phases: list[tuple[str, float]], contacts: int) -> dict[str, Any]:
    busy_calls = contacts * sum(1 for kind, _ in phases if kind == "busy")
    answer_calls = contacts * sum(1 for kind, _ in phases if kind == "answer")
    longest = sum(contacts / rate for _, rate in phases) * 2 + 120
    callees: dict[str, Sipp] = {}
    if busy_calls:
        callees["busy"] = await Sipp(work, "uas_reject", calls=busy_calls, timeout=longest,
                                     fill={"code": "486", "reason": "Busy Here"}).start()
    if answer_calls:
        callees["answer"] = await Sipp(work, "uas_answer", calls=answer_calls,
                                       timeout=longest).start()
    greeting = write_wav(work / "greeting.wav", tone(440, 0.2))
    trunks = [{"name": kind, "registrar": f"sip:127.0.0.1:{sipp.port}", "register": False,
               "caller_id": CALLER_ID} for kind, sipp in callees.items()]
    engine = EngineProcess(work / "engine", {
        "sip": {"trunks": trunks}, "engine": {"greeting": str(greeting)},
        "outbound": {"poll_s": 0.2, "clock_start": CLOCK.isoformat()}})
    names = []
    for i, (kind, rate) in enumerate(phases):
        name = f"{kind}-{rate:g}-{i}"
        _create(engine, work, name, kind, rate, _numbers(contacts, i * contacts))
        names.append(name)
    store = engine.store()
    results: list[dict[str, Any]] = []
    idle = 0.0
    try:
        engine.start()
        await asyncio.sleep(2)  # the node's start-up work, off the idle figure
        idle = await _idle_cpu_share(engine)
        for name, (kind, rate) in zip(names, phases, strict=True):
            log.info("phase %s: %d contacts at %g calls/s", name, contacts, rate)
            results.append(await _phase(engine, store, name, kind, rate, contacts,
                                        timeout=contacts / rate * 3 + 60, idle=idle))
            log.info("phase %s: %s", name, results[-1])
    finally:
        store.close()
        engine.stop()
        for sipp in callees.values():
            await sipp.stop()
    ok = all(r["all_as_expected"] for r in results) and all(
        r["held"] >= HELD_TARGET for r in results if r["callees"] == "busy")
    busiest = max((r for r in results if r["callees"] == "busy"),
                  key=lambda r: r["calls_per_s"], default=None)
    return {"bench": "campaign_throughput", "pass": ok,
            "target": f"busy phases hold >= {HELD_TARGET:.0%} of calls_per_s; every outcome "
                      "as the callee answers",
            "dials_per_s_at_max": None if busiest is None else busiest["dials_per_s"],
            "claim_to_dial_ms_p50": statistics.median(
                r["claim_to_dial_ms_p50"] for r in results if r["claim_to_dial_ms_p50"]),
            "node_call_slots": 4, "idle_cpu_share": round(idle, 3), "phases": results}


def _phases(text: str) -> list[tuple[str, float]]:
    out = []
    for part in text.split(","):
        kind, _, rate = part.partition(":")
        if kind not in ("busy", "answer") or not rate:
            raise argparse.ArgumentTypeError(f"{part!r}: give busy:N or answer:N")
        out.append((kind, float(rate)))
    return out


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--contacts", type=int, default=200, help="per phase (at most 2000)")
    arguments.add_argument("--phases", type=_phases, default=_phases("busy:5,busy:20,answer:5,"
                                                                      "answer:20"))
    args = arguments.parse_args()
    if not 2 <= args.contacts <= 2000:
        arguments.error("--contacts: from 2 to 2000")
    setup_logging()
    out = json_stdout()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(bench(Path(tmp), args.phases, args.contacts))
    write_result(out, result, ["bench", "pass", "dials_per_s_at_max", "claim_to_dial_ms_p50"])
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
