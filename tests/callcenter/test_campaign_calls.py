"""A tiny campaign dialled by a running engine over loopback: sipp answers or
refuses busy as the callees behind two trunks; the dialer's clock is injected
(``outbound.clock_start``), so the calling hours hold whenever the test runs."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.core.store import CallRecord, Store
from tests.sip.test_outbound import Sipp
from tests.support.audio import tone, write_wav
from tests.support.mosquitto import Broker, Tap
from tests.support.processes import EngineProcess

pytestmark = pytest.mark.e2e

CALLER_ID = "+12025550100"
ANSWERING = ["+12125550141", "+12125550142", "+12125550143"]
ON_DNC = "+12125550144"
BUSY = "+12125550145"


def _campaign(path: Path, name: str, trunk: str, **extra: Any) -> Path:
    today = datetime.now(UTC).date()
    spec: dict[str, Any] = {
        "name": name, "flow": "clinic", "message_kind": "informational",
        "caller_id": CALLER_ID, "trunk": trunk, "business_name": "Riverside Clinic",
        "callback_number": CALLER_ID, "ring_timeout_s": 15,
        "pacing": {"max_concurrent_calls": 2, "calls_per_s": 5},
        "active": {"from": str(today - timedelta(days=1)),
                   "until": str(today + timedelta(days=30))}, **extra}
    path.write_text(yaml.safe_dump(spec))
    return path


def _contacts(path: Path, numbers: list[str]) -> Path:
    given = date.today() - timedelta(days=10)
    path.write_text("number,name,consent_kind,consent_date\n" + "".join(
        f"{n},Callee {i},express,{given}\n" for i, n in enumerate(numbers)))
    return path


def _cli(engine: EngineProcess, *args: str) -> None:
    result = CliRunner().invoke(main, [*args, "--config", str(engine.config),
                                       "--data-dir", str(engine.data_dir)])
    assert result.exit_code == 0, result.output


async def _outcomes(store: Store, campaign: str, want: dict[str, int],
                    timeout: float = 40) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = store.campaigns.counts(campaign)
        if all(counts.get(k, 0) >= n for k, n in want.items()) and not counts["in_flight"]:
            return counts
        if time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def test_a_campaign_dials_through_its_trunks_and_stores_the_outcomes(
        tmp_path: Path) -> None:
    answering = await Sipp(tmp_path, "uas_answer", calls=3, timeout=40).start()
    busy = await Sipp(tmp_path, "uas_reject", calls=2, timeout=40,
                      fill={"code": "486", "reason": "Busy Here"}).start()
    # Tomorrow 10:00 in New York, whatever the wall clock says.
    clock = datetime.combine(datetime.now(UTC).date() + timedelta(days=1),
                             datetime.min.time(), UTC) + timedelta(hours=15)
    trunks = [{"name": name, "registrar": f"sip:127.0.0.1:{sipp.port}", "register": False,
               "caller_id": CALLER_ID} for name, sipp in (("answer", answering), ("busy", busy))]
    # The outcomes reach a plain MQTT subscriber too (campaigns/<name>/attempt).
    broker = Broker(tmp_path)
    broker.start()
    tap = await Tap(broker.port, "e2e/campaigns/#").start()
    engine = EngineProcess(tmp_path / "engine", {
        "sip": {"trunks": trunks},
        "events": {"backend": "mqtt", "topic_prefix": "e2e", "mqtt": {"port": broker.port}},
        "outbound": {"poll_s": 0.2, "clock_start": clock.isoformat()}})
    _cli(engine, "campaign", "create", str(_campaign(tmp_path / "a.yaml", "e2e-answer", "answer")))
    _cli(engine, "campaign", "import", "e2e-answer",
         str(_contacts(tmp_path / "a.csv", [*ANSWERING, ON_DNC])))
    _cli(engine, "campaign", "create", str(_campaign(
        tmp_path / "b.yaml", "e2e-busy", "busy",
        retry={"busy": {"delays": ["1s"], "max_attempts": 2}})))
    _cli(engine, "campaign", "import", "e2e-busy", str(_contacts(tmp_path / "b.csv", [BUSY])))
    _cli(engine, "dnc", "add", ON_DNC, "--reason", "asked not to be called")
    _cli(engine, "campaign", "start", "e2e-answer")
    _cli(engine, "campaign", "start", "e2e-busy")
    store = engine.store()
    try:
        engine.start()
        answered = await _outcomes(store, "e2e-answer", {"answered": 3, "blocked": 1})
        refused = await _outcomes(store, "e2e-busy", {"busy": 2})
        assert (await answering.wait(), await busy.wait()) == (0, 0), (
            answering.report() + busy.report() + engine.log[-3000:])
        assert (answered.get("answered"), answered.get("blocked"), answered["pending"]) == (
            3, 1, 0), engine.log[-3000:]
        assert (refused.get("busy"), refused["pending"]) == (2, 0), engine.log[-3000:]

        invites = answering.received("INVITE")
        assert sorted(re.match(r"INVITE sip:(\+\d+)@", i)[1] for i in invites  # type: ignore[index]
                      ) == ANSWERING
        for invite in invites + busy.received("INVITE"):
            from_line = re.search(r"^From: (.*)$", invite, re.M)
            assert from_line and f"sip:{CALLER_ID}@" in from_line.group(1), invite

        attempts = store.campaigns.attempts("e2e-answer")
        for attempt in attempts:
            if attempt.number == ON_DNC:
                assert (attempt.outcome, attempt.reason, attempt.dialed_at) == (
                    "blocked", "internal_dnc", None)
                continue
            assert attempt.outcome == "answered" and attempt.sip_code == 200
            assert attempt.dialed_at is not None and attempt.dialed_at >= clock
            assert attempt.decision is not None and attempt.decision["reason"] == "ok"
            call = await _cdr_answered(store, attempt.call_id or "")
            assert call is not None and call.direction == "outbound" and call.answered_at
        first, second = store.campaigns.attempts("e2e-busy")
        assert (first.sip_code, second.attempt_no, second.sip_code) == (486, 2, 486)
        # A refused attempt names its leg: its CDR keeps the refusal.
        refused_cdr = await _cdr_answered(store, first.call_id or "", shows=lambda c: c.sip_code)
        assert refused_cdr is not None and refused_cdr.sip_code == 486, first
        assert first.ended_at is not None and second.dialed_at is not None
        assert second.dialed_at - first.ended_at >= timedelta(seconds=1)

        def finished(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
            return sorted(b["campaign"] for t, b in seen
                          if t.endswith("/state") and b["change"] == "finished")

        seen = await tap.wait_for(lambda seen: sum(
            t.endswith("/attempt") for t, _ in seen) >= 6 and len(finished(seen)) == 2)
        assert finished(seen) == ["e2e-answer", "e2e-busy"], seen
        news = {(t.split("/")[2], b["number"], b["attempt_no"]): b for t, b in seen
                if t.endswith("/attempt")}
        assert len(news) == 6, seen
        for number in ANSWERING:
            body = news["e2e-answer", number, 1]
            assert (body["outcome"], body["sip_code"], body["decision"], body["final"]) == (
                "answered", 200, "ok", True), body
            assert body["call_id"] and body["dialed_at"] >= clock.isoformat()
        assert (news["e2e-answer", ON_DNC, 1]["outcome"],
                news["e2e-answer", ON_DNC, 1]["reason"]) == ("blocked", "internal_dnc")
        assert news["e2e-busy", BUSY, 1]["next_attempt_at"] is not None
        assert (news["e2e-busy", BUSY, 2]["outcome"], news["e2e-busy", BUSY, 2]["final"]) == (
            "busy", True)
    finally:
        store.close()
        engine.stop()
        await tap.stop()
        broker.stop()
        await answering.stop()
        await busy.stop()


async def _cdr_answered(store: Store, call_id: str, timeout: float = 10,
                        shows: Callable[[CallRecord], object] = lambda c: c.answered_at
                        ) -> CallRecord | None:
    """The call's CDR once it `shows` (by default the answer): the journal
    writes CDRs behind the attempt's outcome (the scheduler's own write),
    later on a busy machine."""
    deadline = time.monotonic() + timeout
    while (call := store.get_call(call_id)) is None or not shows(call):
        if time.monotonic() > deadline:
            return call
        await asyncio.sleep(0.1)
    return call


async def _answered_calls(store: Store, count: int, why: Callable[[], str],
                          timeout: float = 60) -> None:
    """Wait (bounded) until `count` CDRs show an answer; `why` explains a timeout."""
    deadline = time.monotonic() + timeout
    while sum(1 for c in store.recent_calls() if c.answered_at) < count:
        assert time.monotonic() < deadline, f"fewer than {count} calls answered:\n{why()}"
        await asyncio.sleep(0.1)


async def test_kill_9_mid_campaign_loses_no_attempt_and_dials_none_twice(
        tmp_path: Path) -> None:
    answering = await Sipp(tmp_path, "uas_answer", calls=3, timeout=60).start()
    clock = datetime.combine(datetime.now(UTC).date() + timedelta(days=1),
                             datetime.min.time(), UTC) + timedelta(hours=15)
    trunk = {"name": "answer", "registrar": f"sip:127.0.0.1:{answering.port}",
             "register": False, "caller_id": CALLER_ID}
    # A long greeting keeps the answered calls up until the kill (their CDRs
    # show the answer through the journal, seconds late on a busy machine).
    greeting = write_wav(tmp_path / "long.wav", tone(440, 10.0))
    engine = EngineProcess(tmp_path / "engine", {
        "sip": {"trunks": [trunk]}, "engine": {"greeting": str(greeting)},
        "outbound": {"poll_s": 0.2, "clock_start": clock.isoformat()}})
    _cli(engine, "campaign", "create", str(_campaign(tmp_path / "a.yaml", "e2e-kill", "answer")))
    _cli(engine, "campaign", "import", "e2e-kill", str(_contacts(tmp_path / "a.csv", ANSWERING)))
    _cli(engine, "campaign", "start", "e2e-kill")
    store = engine.store()
    try:
        engine.start()
        await _answered_calls(store, 2, lambda: "\n".join((  # max_concurrent_calls: 2
            repr(store.campaigns.attempts("e2e-kill")), repr(store.recent_calls()),
            answering.report(), engine.log[-4000:])))
        engine.kill9()
        assert store.campaigns.counts("e2e-kill")["in_flight"] == 2
        engine.start()  # settles the dead node's attempts, then dials the third contact
        counts = await _outcomes(store, "e2e-kill", {"unknown": 2, "answered": 1})
        assert (counts.get("unknown"), counts.get("answered"), counts["pending"]) == (
            2, 1, 0), engine.log[-3000:]
        invites = answering.received("INVITE")
        assert sorted(re.match(r"INVITE sip:(\+\d+)@", i)[1] for i in invites  # type: ignore[index]
                      ) == ANSWERING, answering.report()
        lost = [a for a in store.campaigns.attempts("e2e-kill") if a.outcome == "unknown"]
        assert all(a.dialed_at is not None and a.ended_at is not None for a in lost)
        assert sorted(str(c.end_reason) for c in store.recent_calls()) == [
            "engine_hangup", "incomplete", "incomplete"]
    finally:
        store.close()
        engine.stop()
        await answering.stop()
