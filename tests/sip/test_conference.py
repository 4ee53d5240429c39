"""Conference primitives on a real node: bridge, listen-only, whisper, barge, hold.

The node under test runs in this process; three test callers (separate
processes, each its own pjsua2 endpoint) dial it, each playing its own tone
and recording what it hears. Which caller hears which tone is the assertion.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.call import CallState
from callcenter.core.settings import load_settings
from sip.call import SipCall
from sip.node import SipNode
from sip.sip_uri import request_uri_user
from tests.support.audio import level_at, read_wav, tone, write_wav
from tests.support.processes import dial_result, start_dial

pytestmark = pytest.mark.e2e

TONES = {"a": 600.0, "b": 900.0, "c": 1300.0}
CALL_SECONDS = 7.0


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        self.events.append((call.id, kind))


@pytest.fixture
async def node() -> AsyncIterator[tuple[SipNode, asyncio.Queue[SipCall], _Recorder]]:
    settings = load_settings(overrides={"sip.host": "127.0.0.1", "sip.port": 0,
                                        "sip.rtp_port": 0, "sip.media_timeout_s": 3})
    arrived: asyncio.Queue[SipCall] = asyncio.Queue()

    async def answer(call: SipCall) -> None:
        await call.answer()
        await arrived.put(call)
        await call.ended

    observer = _Recorder()
    node = SipNode(settings.sip, observer, answer)
    await node.start()
    try:
        yield node, arrived, observer
    finally:
        await node.stop()


async def _three_callers(node: SipNode, arrived: asyncio.Queue[SipCall], tmp_path: Path,
                         route: Callable[[dict[str, SipCall]], Awaitable[None]]
                         ) -> dict[str, Any]:
    assert node.facts is not None
    procs = {}
    for name, freq in TONES.items():
        wav = write_wav(tmp_path / f"{name}.wav", tone(freq, CALL_SECONDS))
        procs[name] = start_dial(f"sip:{name}@127.0.0.1:{node.facts.udp_port}", "--wav",
                                 str(wav), "--record", str(tmp_path / f"{name}-heard.wav"),
                                 "--duration", str(CALL_SECONDS))
    calls: dict[str, SipCall] = {}
    try:
        async with asyncio.timeout(45):  # three `callcenter dial` processes start at once
            while len(calls) < 3:
                call = await arrived.get()
                calls[request_uri_user(call.info.to_uri)] = call
    except TimeoutError:
        raise AssertionError(f"calls arrived from {sorted(calls)} only:\n"
                             + _outputs({n: p for n, p in procs.items() if n not in calls})
                             ) from None
    await route(calls)
    results = {name: await asyncio.to_thread(dial_result, proc) for name, proc in procs.items()}
    assert all(r["status"] == "answered" for r in results.values()), results
    return calls


def _outputs(procs: dict[str, subprocess.Popen[str]]) -> str:
    """What these dial processes said (those still running are killed first)."""
    said = []
    for name, proc in procs.items():
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=10)
        said.append(f"--- {name}: exit {proc.returncode}\n{out[-1500:]}\n{err[-3000:]}")
    return "\n".join(said)


def _heard(tmp_path: Path, name: str) -> dict[str, float]:
    samples, rate = read_wav(tmp_path / f"{name}-heard.wav")
    steady = samples[-int(3.0 * rate): -int(0.5 * rate), 0]  # after routing settled
    return {other: level_at(steady, rate, freq) for other, freq in TONES.items()}


def _assert_hears(tmp_path: Path, name: str, expected: set[str]) -> None:
    levels = _heard(tmp_path, name)
    for other in TONES:
        if other in expected:
            assert levels[other] > 0.15, f"{name} should hear {other}: {levels}"
        else:
            assert levels[other] < 0.02, f"{name} should not hear {other}: {levels}"


async def test_bridge_and_listen_only(node: Any, tmp_path: Path) -> None:
    sip_node, arrived, _ = node

    async def route(calls: dict[str, SipCall]) -> None:
        await sip_node.bridge(calls["a"], calls["b"])
        await sip_node.listen_in(calls["c"], [calls["a"], calls["b"]])

    await _three_callers(sip_node, arrived, tmp_path, route)
    _assert_hears(tmp_path, "a", {"b"})
    _assert_hears(tmp_path, "b", {"a"})
    _assert_hears(tmp_path, "c", {"a", "b"})


async def test_whisper_is_heard_by_one_leg_only(node: Any, tmp_path: Path) -> None:
    sip_node, arrived, _ = node

    async def route(calls: dict[str, SipCall]) -> None:
        await sip_node.bridge(calls["a"], calls["b"])
        await sip_node.whisper(calls["c"], [calls["a"], calls["b"]], to=calls["a"])

    await _three_callers(sip_node, arrived, tmp_path, route)
    _assert_hears(tmp_path, "a", {"b", "c"})
    _assert_hears(tmp_path, "b", {"a"})
    _assert_hears(tmp_path, "c", {"a", "b"})


async def test_barge_is_heard_by_both_legs(node: Any, tmp_path: Path) -> None:
    sip_node, arrived, _ = node

    async def route(calls: dict[str, SipCall]) -> None:
        await sip_node.bridge(calls["a"], calls["b"])
        await sip_node.barge(calls["c"], [calls["a"], calls["b"]])

    calls = await _three_callers(sip_node, arrived, tmp_path, route)
    _assert_hears(tmp_path, "a", {"b", "c"})
    _assert_hears(tmp_path, "b", {"a", "c"})
    _assert_hears(tmp_path, "c", {"a", "b"})
    assert (await sip_node.stats()).active_calls == 0
    assert all(c.state == CallState.ENDED for c in calls.values())


async def test_hold_and_unhold(node: Any, tmp_path: Path) -> None:
    sip_node, arrived, observer = node
    assert sip_node.facts is not None
    proc = start_dial(f"sip:h@127.0.0.1:{sip_node.facts.udp_port}", "--duration", "10")
    async with asyncio.timeout(15):
        call = await arrived.get()
        await call.hold()
        while call.state != CallState.ON_HOLD:
            await asyncio.sleep(0.05)
        await asyncio.sleep(4)  # longer than the media timeout: holding is not silence
        assert call.state == CallState.ON_HOLD
        await call.unhold()
        while call.state != CallState.ANSWERED:
            await asyncio.sleep(0.05)
    result = await asyncio.to_thread(dial_result, proc)
    assert result["ended_by"] == "caller"
    kinds = [kind for call_id, kind in observer.events if call_id == call.id]
    assert kinds.index("hold") < kinds.index("unhold") < kinds.index("ended")


async def test_playback_stops_at_once(node: Any, tmp_path: Path) -> None:
    sip_node, arrived, _ = node
    assert sip_node.facts is not None
    heard_path = tmp_path / "p-heard.wav"
    proc = start_dial(f"sip:p@127.0.0.1:{sip_node.facts.udp_port}", "--record",
                      str(heard_path), "--duration", "4")
    async with asyncio.timeout(15):
        call = await arrived.get()
        played = call.play(tone(1000.0, 10.0).tobytes())
        await asyncio.sleep(1.5)
        call.stop_audio()
        assert await played is False
    await asyncio.to_thread(dial_result, proc)
    samples, rate = read_wav(heard_path)
    loud = abs(samples[:, 0].astype(int)) > 2000
    last_loud = int(loud.nonzero()[0].max()) / rate
    assert 1.2 < last_loud < 1.9  # ~1.5 s after the answer, plus path latency
    assert not loud[int(rate * 2.0):].any()
