"""Holding a slot is not free: no-RTP calls, per-source limits, reserved slots,
OPTIONS for a SIP edge, and refusals that show in the journal.

End to end over loopback: `callcenter serve` subprocesses, sipp (also bound
to 127.0.0.2 as a second source address) and the built-in test caller.
Every wait is bounded and generous (a loaded 2-core machine).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call import EndReason
from callcenter.core.store.records import CallRecord
from tests.callcenter.test_sip_robustness import (
    EngineFactory,
    assert_alive,
    ended_records,
    wait_for,
    wait_idle,
)
from tests.support.processes import EngineProcess, dial, dial_result, start_dial
from tests.support.sipp import (
    options_request,
    receive,
    run_sipp,
    silent_uac,
    sipp_cmd,
    udp_socket,
)

pytestmark = pytest.mark.e2e


def sipp_from(address: str, cmd: list[str]) -> list[str]:
    """A sipp command line bound to another loopback address (its own source)."""
    cmd = list(cmd)
    for flag in ("-i", "-mi"):
        cmd[cmd.index(flag) + 1] = address
    return cmd


def sipp_counter(output: str, name: str) -> int:
    found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else -1


def options_reply(port: int, timeout: float = 5.0) -> bytes:
    """The final response to one OPTIONS (retransmitted like Timer E)."""
    sock = udp_socket()
    try:
        request, call_id = options_request(sock, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.sendto(request, ("127.0.0.1", port))
            for reply in receive([sock], 0.5):
                if call_id in reply and re.match(rb"SIP/2\.0 [2-6]\d\d ", reply):
                    return reply
        raise AssertionError("no answer to OPTIONS")
    finally:
        sock.close()


def refused_events(engine: EngineProcess, records: list[CallRecord]) -> list[dict[str, Any]]:
    store = engine.store()
    try:
        return [e.data for r in records if r.end_reason == EndReason.REJECTED
                for e in store.events_for(r.id) if e.kind == "refused"]
    finally:
        store.close()


# -- a. no RTP at all ---------------------------------------------------------------------
def test_caller_sending_no_rtp_is_ended_and_its_slot_returns(engine_factory: EngineFactory,
                                                            tmp_path: Path) -> None:
    engine = engine_factory({"sip": {"first_rtp_timeout_s": 2, "media_timeout_s": 30,
                                     "max_calls": 1}})
    scenario = silent_uac(tmp_path / "silent_uac.xml", bye_timeout_ms=15000)
    result = run_sipp(engine.port, cwd=tmp_path, scenario=scenario, timeout_s=25)
    assert result.returncode == 0 and result.successful == 1, f"no BYE from engine: {result}"
    [cdr] = ended_records(engine, 1)
    assert cdr.end_reason == EndReason.NO_MEDIA
    assert cdr.answered_at is not None and cdr.ended_at is not None
    assert 2.0 <= (cdr.ended_at - cdr.answered_at).total_seconds() <= 8.0
    wait_idle(engine, timeout=10)
    outcome = dial(engine.uri(), "--duration", "1", timeout=30)
    assert outcome["status"] == "answered", outcome


def test_caller_whose_rtp_stops_is_ended_by_the_media_timeout(
        engine_factory: EngineFactory) -> None:
    engine = engine_factory({"sip": {"first_rtp_timeout_s": 2, "media_timeout_s": 3}})
    caller = start_dial(engine.uri(), "--duration", "40")
    try:
        wait_for(lambda: engine.status()["active_calls"] == 1, 20, "the call")
        time.sleep(4)  # RTP flowed past first_rtp_timeout_s: this call is not "no media"
        caller.send_signal(signal.SIGSTOP)  # its RTP stops
        wait_for(lambda: "no RTP for 3 s" in engine.log, 20, "the media timeout")
        caller.send_signal(signal.SIGCONT)  # let it answer the engine's BYE
        outcome = dial_result(caller, timeout=40)
    finally:
        if caller.poll() is None:
            caller.send_signal(signal.SIGCONT)
            caller.kill()
            caller.wait(5)
    assert outcome["ended_by"] == "remote", outcome
    [cdr] = ended_records(engine, 1, timeout=40)
    assert cdr.end_reason == EndReason.MEDIA_TIMEOUT


# -- b. a flood from one source -----------------------------------------------------------
def test_flood_from_one_source_does_not_keep_another_source_out(
        engine_factory: EngineFactory, tmp_path: Path) -> None:
    engine = engine_factory({"sip": {
        "max_calls": 4, "trusted_sources": [], "first_rtp_timeout_s": 3,
        "media_timeout_s": 30, "refusals_journaled_per_s": 2,
        "per_source": {"max_calls": 2, "max_invites_per_s": 5, "burst": 5}}})
    flood_dir, normal_dir = tmp_path / "flood", tmp_path / "normal"
    flood_dir.mkdir()
    normal_dir.mkdir()
    # 60 INVITEs in 2 s from 127.0.0.1 that answer the 200 with ACK, then never
    # send RTP and wait for the engine's BYE.
    flood_cmd = sipp_cmd(engine.port, scenario=silent_uac(flood_dir / "flood.xml", 15000),
                         calls=60, limit=60, rate=30, timeout_s=30)
    flood = subprocess.Popen(flood_cmd, cwd=flood_dir, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: sum(engine.status()["refused"].values()) >= 5, 30,
                 "the flood to be refused")
        # A normal caller from 127.0.0.2, while the flood goes on: 3 calls, one at a time.
        normal = subprocess.run(
            sipp_from("127.0.0.2", sipp_cmd(engine.port, calls=3, limit=1, rate=5,
                                            pause_ms=500, timeout_s=30)),
            cwd=normal_dir, capture_output=True, text=True, timeout=45,
            stdin=subprocess.DEVNULL)
        flood_out, _ = flood.communicate(timeout=60)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait(5)
    assert sipp_counter(normal.stdout, "Successful call") == 3, normal.stdout[-3000:]
    admitted = sipp_counter(flood_out, "Successful call")  # held, then BYE'd by the engine
    refused = sipp_counter(flood_out, "Failed call")
    assert 1 <= admitted <= 4 and admitted + refused == 60, flood_out[-3000:]

    status = wait_idle(engine, timeout=30)  # every slot came back
    assert_alive(engine)
    by_reason: dict[str, int] = status["refused"]
    assert by_reason.get("rate", 0) > 0 and by_reason.get("source_calls", 0) > 0, status
    assert set(by_reason) <= {"rate", "source_calls"}, status
    assert status["refused_by_source"] == {"127.0.0.1": sum(by_reason.values())}, status
    assert sum(by_reason.values()) >= refused  # (a retransmitted INVITE counts again)

    records = ended_records(engine, admitted + 3, timeout=30)
    held = [r for r in records if r.end_reason == EndReason.NO_MEDIA]
    assert len(held) == admitted
    for cdr in held:  # each slot came back within about first_rtp_timeout_s
        assert cdr.answered_at is not None and cdr.ended_at is not None
        assert 3.0 <= (cdr.ended_at - cdr.answered_at).total_seconds() <= 10.0
    assert sum(r.end_reason == EndReason.CALLER_HANGUP for r in records) == 3

    # Every refusal is in the journal: one by one up to 2 a second, the rest counted.
    def journaled() -> int:
        calls = ended_records(engine, 1, timeout=10)
        return sum(int(e["count"]) for e in refused_events(engine, calls))

    total = sum(by_reason.values())
    wait_for(lambda: journaled() == total, 20, lambda: f"{total} refusals journaled")
    events = refused_events(engine, ended_records(engine, 1))
    assert {e["sip_code"] for e in events} == {503}
    assert {e["source"] for e in events} == {"127.0.0.1"}
    singles = [e for e in events if e["count"] == 1]
    assert len(singles) < total  # a flood is aggregated, not written call by call


# -- c. slots reserved for agents ---------------------------------------------------------
def test_reserved_slots_keep_the_last_legs_for_agents(engine_factory: EngineFactory,
                                                      tmp_path: Path) -> None:
    engine = engine_factory({"sip": {"max_calls": 3, "reserved_slots": 1,
                                     "reserved_numbers": ["200"], "first_rtp_timeout_s": 0,
                                     "media_timeout_s": 30}})
    idle = options_reply(engine.port)  # pjsua's own answer, kept while calls can be taken
    assert idle.startswith(b"SIP/2.0 200 "), idle
    assert re.search(rb"(?im)^Allow: .*INVITE", idle) and re.search(rb"(?im)^Accept: ", idle)

    holders = subprocess.Popen(sipp_cmd(engine.port, calls=2, limit=2, rate=10,
                                        pause_ms=10000, timeout_s=40),
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: engine.status()["active_calls"] == 2, 20, "two callers")
        full = options_reply(engine.port)  # no slot left for a caller
        assert full.startswith(b"SIP/2.0 503 "), full
        assert re.search(rb"(?im)^Retry-After: 5\r$", full), full
        caller = dial(engine.uri(user="100"), "--duration", "1", timeout=30)
        assert (caller["status"], caller["sip_code"]) == ("failed", 503), caller
        agent = dial(engine.uri(user="200"), "--duration", "1", timeout=30)
        assert agent["status"] == "answered", agent
        assert engine.status()["refused"] == {"reserved": 1}
    finally:
        holders.communicate(timeout=60)
    assert holders.returncode == 0
    wait_idle(engine)
    assert options_reply(engine.port).startswith(b"SIP/2.0 200 ")
