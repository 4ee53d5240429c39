"""Outbound calls from a real node: answered, busy, unanswered, refused, via a trunk.

The node under test runs in this process. Its peers are an engine subprocess
(for a real answer with media) or sipp playing a scripted UAS from
``tests/support/sipp_scenarios``; sipp's exit code says whether the node
followed the script, its message trace what the node actually sent.
:class:`Sipp` runs sipp without blocking the event loop the node needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call import EndReason
from callcenter.core.errors import CallFailed
from callcenter.core.settings import load_settings
from sip.call import SipCall
from sip.node import SipNode
from tests.support.processes import EngineProcess
from tests.support.sipp import SIPP, SIPP_START_ATTEMPTS, free_port, port_was_taken

pytestmark = pytest.mark.e2e
# sipp is a required test peer (Debian sip-tester; `make test` installs it as root).
needs_sipp = pytest.mark.e2e

SCENARIOS = Path(__file__).resolve().parents[1] / "support" / "sipp_scenarios"


def _udp_port_bound(port: int) -> bool:
    """Someone listens on UDP 127.0.0.1:`port` (read from /proc: probing by
    binding the port ourselves could steal it from sipp as it starts)."""
    with open("/proc/net/udp") as table:
        local = (line.split()[1] for line in table.readlines()[1:])  # "0100007F:1F90"
        return any(address.rsplit(":", 1)[1] == f"{port:04X}" for address in local)


class Sipp:
    """One sipp run (``-m calls``, bounded by ``-timeout``), traced into `work_dir`.

    As a UAS (no `remote`) it listens on :attr:`port`; as a UAC it calls `remote`.
    """

    def __init__(self, work_dir: Path, scenario: str, *, remote: str | None = None,
                 service: str = "node", calls: int = 1, timeout: float = 20,
                 fill: dict[str, str] | None = None) -> None:
        self.dir = work_dir / f"sipp-{scenario}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port, self.media_port = free_port(), free_port(4)  # sipp binds mp and mp+2
        self.messages, self.errors = self.dir / "messages.log", self.dir / "errors.log"
        self.output = self.dir / "output.log"
        self.timeout = timeout
        source = SCENARIOS / f"{scenario}.xml"
        if fill:  # a template: sipp parses status lines at load time, before -key
            text = source.read_text()
            for name, value in fill.items():
                text = text.replace(f"@{name.upper()}@", value)
            source = self.dir / source.name
            source.write_text(text)
        self.args = [SIPP or "sipp", *([remote] if remote else []), "-sf", str(source),
                     "-s", service, "-i", "127.0.0.1", "-p", str(self.port), "-bind_local",
                     "-mi", "127.0.0.1", "-mp", str(self.media_port),
                     "-m", str(calls), "-timeout", f"{timeout:g}s", "-timeout_error",
                     "-nostdin", "-trace_msg", "-message_file", str(self.messages),
                     "-trace_err", "-error_file", str(self.errors)]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Sipp:
        """Start sipp; on ports another process took since they were picked
        (free_port checks, then lets go), pick new ones (SIPP_START_ATTEMPTS in all)."""
        for attempt in range(SIPP_START_ATTEMPTS):
            with self.output.open("wb") as out:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.args, cwd=self.dir, stdin=asyncio.subprocess.DEVNULL,
                    stdout=out, stderr=asyncio.subprocess.STDOUT)
            deadline = time.monotonic() + 5
            while not _udp_port_bound(self.port):  # listening: safe to send it requests
                if self.proc.returncode is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            else:
                return self
            await self.stop()
            if not port_was_taken(self.report()) or attempt == SIPP_START_ATTEMPTS - 1:
                raise RuntimeError(f"sipp did not start:\n{self.report()}")
            self.port, self.media_port = free_port(), free_port(4)
            self.args[self.args.index("-p") + 1] = str(self.port)
            self.args[self.args.index("-mp") + 1] = str(self.media_port)
            self.errors.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    async def wait(self) -> int:
        """sipp's exit code: 0 when every call followed the scenario."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), self.timeout + 5)
        except TimeoutError:
            await self.stop()
            raise AssertionError(f"sipp outlived its -timeout:\n{self.report()}") from None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await asyncio.wait_for(self.proc.wait(), 5)

    def report(self) -> str:
        """What sipp saw and said, for assertion messages."""
        parts = []
        for path in (self.messages, self.errors, self.output):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    def trace(self) -> str:
        text = self.messages.read_text(errors="replace") if self.messages.exists() else ""
        return text.replace("\r\n", "\n")

    def received(self, method: str) -> list[str]:
        """Every request `method` sipp received, as text (from the message trace)."""
        found = re.findall(r"^UDP message received [^\n]*\n\n(.*?)(?=^-{20,}|\Z)",
                           self.trace(), re.M | re.S)
        return [m.strip() for m in found if m.startswith(f"{method} ")]


@contextlib.asynccontextmanager
async def sipp_running(tmp_path: Path, scenario: str, **kwargs: Any) -> AsyncIterator[Sipp]:
    sipp = await Sipp(tmp_path, scenario, **kwargs).start()
    try:
        yield sipp
    finally:
        await sipp.stop()


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        self.events.append((call.id, kind, data))

    def of(self, call: SipCall, kind: str) -> list[dict[str, Any]]:
        return [d for cid, k, d in self.events if cid == call.id and k == kind]


@contextlib.asynccontextmanager
async def node_running(observer: Any = None, on_incoming: Any = None,
                       **overrides: Any) -> AsyncIterator[SipNode]:
    settings = load_settings(overrides={"sip.host": "127.0.0.1", "sip.port": 0,
                                        "sip.transports": ["udp"], "sip.rtp_port": 0,
                                        "sip.media_timeout_s": 30, **overrides})
    node = SipNode(settings.sip, observer or Events(), on_incoming)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


async def _refused(node: SipNode, uri: str, **kwargs: Any) -> tuple[CallFailed, float]:
    started = time.monotonic()
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(node.dial(uri, **kwargs), 15)
    return failed.value, time.monotonic() - started


async def test_answered_call_to_an_engine_is_pcmu_and_we_hang_up(
        engine: EngineProcess) -> None:
    events = Events()
    async with node_running(events) as node:
        call = await asyncio.wait_for(node.dial(engine.uri("200")), 15)
        assert call.answered.done() and call.media is not None
        assert call.media.codec == "PCMU" and call.media.clock_rate == 8000
        await call.hangup()
        end = await node.wait_ended(call)
        assert end.reason == EndReason.ENGINE_HANGUP
        kinds = [kind for cid, kind, _ in events.events if cid == call.id]
        # media starts on the 200's SDP, just before the ACK confirms the call
        assert kinds[0] == "dialing" and kinds[-1] == "ended", kinds
        assert sorted(kinds[1:3]) == ["answered", "media"], kinds
        assert (await node.stats()).active_calls == 0


@needs_sipp
@pytest.mark.parametrize(("code", "reason", "outcome"), [
    (486, "Busy Here", EndReason.BUSY),
    (404, "Not Found", EndReason.FAILED),
    (503, "Service Unavailable", EndReason.FAILED),
])
async def test_refused_call_raises_call_failed_with_the_sip_code(
        tmp_path: Path, code: int, reason: str, outcome: EndReason) -> None:
    events = Events()
    async with node_running(events) as node, sipp_running(
            tmp_path, "uas_reject", fill={"code": str(code), "reason": reason}) as sipp:
        failed, _ = await _refused(node, f"sip:100@127.0.0.1:{sipp.port}")
        assert failed.sip_code == code, failed
        ended = [d for _, kind, d in events.events if kind == "ended"]
        assert [(d["reason"], d["sip_code"]) for d in ended] == [(outcome, code)]
        assert (await sipp.wait()) == 0, sipp.report()
        assert (await node.stats()).active_calls == 0


@needs_sipp
async def test_unanswered_call_is_cancelled_after_the_ring_timeout(tmp_path: Path) -> None:
    events = Events()
    async with node_running(events) as node, sipp_running(tmp_path, "uas_ring_cancel") as sipp:
        failed, took = await _refused(node, f"sip:100@127.0.0.1:{sipp.port}", ring_timeout=2)
        assert failed.sip_code == 408, failed
        assert 1.9 <= took <= 4.0, took
        assert (await sipp.wait()) == 0, sipp.report()  # it saw CANCEL and our ACK of 487
        assert len(sipp.received("CANCEL")) == 1
        ended = [d for _, kind, d in events.events if kind == "ended"]
        assert [d["reason"] for d in ended] == [EndReason.NO_ANSWER]


@needs_sipp
async def test_trunk_registers_authenticates_and_dials_through_its_proxy(
        tmp_path: Path) -> None:
    async with sipp_running(tmp_path, "uas_registrar_peer", calls=2) as sipp:
        trunk = {"name": "prov", "registrar": f"sip:127.0.0.1:{sipp.port}",
                 "username": "alice", "password": "s3cret", "realm": "test",
                 "caller_id": "+15551230000", "proxy": f"sip:127.0.0.1:{sipp.port};lr"}
        async with node_running(**{"sip.trunks": [trunk]}) as node:
            async with asyncio.timeout(10):  # registration first, as a provider expects
                while not _registered(sipp):
                    await asyncio.sleep(0.05)
            call = await asyncio.wait_for(node.dial("15550001111", trunk="prov"), 15)
            assert call.media is not None and call.media.codec == "PCMU"
            await call.hangup()
            assert (await node.wait_ended(call)).reason == EndReason.ENGINE_HANGUP
            assert (await sipp.wait()) == 0, sipp.report()

    registers = sipp.received("REGISTER")
    assert len(registers) >= 2 and "Authorization: Digest" in registers[1], sipp.report()
    assert 'username="alice"' in registers[1]
    invites = sipp.received("INVITE")
    assert len(invites) == 2, sipp.report()  # challenged once, then with credentials
    for invite in invites:
        assert invite.startswith(f"INVITE sip:15550001111@127.0.0.1:{sipp.port} SIP/2.0")
        assert re.search(rf"^Route: <sip:127\.0\.0\.1:{sipp.port};lr>", invite, re.M), invite
        from_line = re.search(r"^From: (.*)$", invite, re.M)
        assert from_line and "sip:+15551230000@" in from_line.group(1), invite
    assert re.search(r'^Authorization: Digest username="alice", realm="test"', invites[1], re.M)


def _registered(sipp: Sipp) -> bool:
    """sipp, as the registrar, has sent a 200 to a REGISTER."""
    return bool(re.search(r"^SIP/2\.0 200 OK\n(?:.+\n)*?CSeq: \d+ REGISTER$", sipp.trace(), re.M))


@needs_sipp
async def test_trunk_with_a_wrong_password_is_refused(tmp_path: Path) -> None:
    """The scenario really checks the digest: a wrong password gets 403."""
    async with sipp_running(tmp_path, "uas_registrar_peer", calls=2, timeout=10) as sipp:
        trunk = {"name": "prov", "registrar": f"sip:127.0.0.1:{sipp.port}",
                 "username": "alice", "password": "wrong", "realm": "test"}
        async with node_running(**{"sip.trunks": [trunk]}) as node:
            failed, _ = await _refused(node, "15550001111", trunk="prov")
            assert failed.sip_code == 403, failed
            assert (await sipp.wait()) != 0, sipp.report()
    assert not _registered(sipp)
