"""In-dialog signalling of a real node: DTMF over SIP INFO, REFER both ways.

The node under test runs in this process and answers every call; sipp plays
the caller from a scripted UAC scenario (``tests/support/sipp_scenarios``),
so sipp's exit code says whether the node answered each request as the
scenario expects.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call import CallState, EndReason
from callcenter.core.errors import CallGone
from sip.call import SipCall
from sip.node import SipNode
from tests.sip.test_outbound import Events, Sipp, needs_sipp, node_running

pytestmark = [pytest.mark.e2e, needs_sipp]

Answered = tuple[SipNode, asyncio.Queue[SipCall], Events]


@pytest.fixture
async def node() -> AsyncIterator[Answered]:
    """A node answering every call; answered calls are queued for the test."""
    arrived: asyncio.Queue[SipCall] = asyncio.Queue()

    async def answer(call: SipCall) -> None:
        await call.answer()
        await arrived.put(call)
        await call.ended

    events = Events()
    async with node_running(events, answer) as sip_node:
        yield sip_node, arrived, events


async def _caller(node: SipNode, tmp_path: Path, scenario: str) -> Sipp:
    assert node.facts is not None
    return await Sipp(tmp_path, scenario, remote=f"127.0.0.1:{node.facts.udp_port}",
                      service="100", timeout=15).start()


async def _settle(node: SipNode, sipp: Sipp, call: SipCall) -> Any:
    """sipp's exit code must be 0, the call ended and the node empty again."""
    assert (await sipp.wait()) == 0, sipp.report()
    end = await node.wait_ended(call)
    assert call.state == CallState.ENDED
    assert (await node.stats()).active_calls == 0
    return end


async def test_dtmf_sent_as_sip_info_reaches_the_call(node: Answered, tmp_path: Path) -> None:
    sip_node, arrived, events = node
    sipp = await _caller(sip_node, tmp_path, "uac_info_dtmf")
    try:
        call = await asyncio.wait_for(arrived.get(), 10)
        digits = [await asyncio.wait_for(call.dtmf.get(), 10) for _ in range(2)]
        end = await _settle(sip_node, sipp, call)
    finally:
        await sipp.stop()
    assert digits == ["5", "#"]
    assert [(d["digit"], d["method"]) for d in events.of(call, "dtmf")] == [
        ("5", "sip_info"), ("#", "sip_info")]
    assert end.reason == EndReason.CALLER_HANGUP
    responses = re.findall(r"^SIP/2\.0 (\d{3}) .*\n(?:.+\n)*?CSeq: \d+ INFO$", sipp.trace(), re.M)
    assert responses == ["200", "200"], sipp.report()


async def test_blind_transfer_by_the_node(node: Answered, tmp_path: Path) -> None:
    sip_node, arrived, events = node
    sipp = await _caller(sip_node, tmp_path, "uac_refer_from_node")
    try:
        call = await asyncio.wait_for(arrived.get(), 10)
        code = await call.transfer("sip:agent@127.0.0.1:9", timeout=10)
        end = await _settle(sip_node, sipp, call)
    finally:
        await sipp.stop()
    assert code == 200
    assert end.reason == EndReason.TRANSFERRED
    assert events.of(call, "transfer") == [
        {"target": "sip:agent@127.0.0.1:9", "sip_code": 200, "outcome": "accepted"}]
    assert events.of(call, "ended")[0]["reason"] == EndReason.TRANSFERRED
    refers = sipp.received("REFER")
    assert len(refers) == 1, sipp.report()
    assert re.search(r"^Refer-To: <?sip:agent@127\.0\.0\.1:9>?$", refers[0], re.M), refers[0]
    assert len(sipp.received("BYE")) == 1  # the node hung up once the transfer succeeded


async def test_transfer_ends_at_once_when_the_caller_hangs_up_first(
        node: Answered, tmp_path: Path) -> None:
    sip_node, arrived, events = node
    sipp = await _caller(sip_node, tmp_path, "uac_refer_then_bye")
    try:
        call = await asyncio.wait_for(arrived.get(), 10)
        started = time.monotonic()
        with pytest.raises(CallGone):  # not a wait for the whole transfer timeout
            await call.transfer("sip:agent@127.0.0.1:9", timeout=10)
        assert time.monotonic() - started < 3
        end = await _settle(sip_node, sipp, call)
    finally:
        await sipp.stop()
    assert end.reason == EndReason.CALLER_HANGUP
    assert [e["outcome"] for e in events.of(call, "transfer")] == ["call_ended"]


async def test_a_transfer_nobody_answers_times_out_and_the_call_goes_on(
        node: Answered, tmp_path: Path) -> None:
    sip_node, arrived, events = node
    sipp = await _caller(sip_node, tmp_path, "uac_refer_no_notify")
    try:
        call = await asyncio.wait_for(arrived.get(), 10)
        call.transfer_timeout_s = 1.0  # sip.transfer_timeout_s, as the node passes it
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await call.transfer("sip:agent@127.0.0.1:9")
        assert 0.9 < time.monotonic() - started < 2.5
        assert call.state == CallState.ANSWERED  # the caller is still there
        end = await _settle(sip_node, sipp, call)
    finally:
        await sipp.stop()
    assert end.reason == EndReason.CALLER_HANGUP
    assert events.of(call, "transfer") == [
        {"target": "sip:agent@127.0.0.1:9", "sip_code": None, "outcome": "timeout"}]


async def test_refer_from_the_caller_is_refused(node: Answered, tmp_path: Path) -> None:
    sip_node, arrived, events = node
    sipp = await _caller(sip_node, tmp_path, "uac_refer_to_node")
    try:
        call = await asyncio.wait_for(arrived.get(), 10)
        end = await _settle(sip_node, sipp, call)
    finally:
        await sipp.stop()
    # sipp's scenario demands 603 Decline to its REFER, then the call goes on
    # until its own BYE: the engine neither dialled x@127.0.0.1:9 nor hung up.
    assert end.reason == EndReason.CALLER_HANGUP
    assert [kind for _, kind, _ in events.events if kind == "dialing"] == []
    status = re.findall(r"^SIP/2\.0 (\d{3}) .*\n(?:.+\n)*?CSeq: \d+ REFER$", sipp.trace(), re.M)
    assert status == ["603"], sipp.report()
