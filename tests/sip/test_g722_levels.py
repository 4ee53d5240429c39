"""G.722 calls are as loud as PCMU calls, both ways, for the whole call.

pjmedia's G.722 shifts PCM levels (see sip/g722_levels.py): a softphone
using spandsp's G.722 (baresip) heard the engine about 6 dB low, reached it
about 6 dB hot, and after its first loud peak the engine got about 5 dB
louder mid-call. Here the far end's codec is ffmpeg's (tests/support/
rtp_peer.py), independent of pjmedia: sipp sets up one PCMU and one G.722
call, the peer sends a reference tone, a full-scale burst and the tone
again, while the node plays its own tone; levels are compared on what the
node received and what the peer decoded.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.core.settings import load_settings
from sip.call import SipCall
from sip.node import SipNode
from sip.sip_uri import request_uri_user
from tests.support.audio import tone
from tests.support.rtp_peer import CODECS, RtpPeer, decode, encode
from tests.support.sipp import sipp_cmd

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).resolve().parents[1] / "support" / "sipp_scenarios" / (
    "uac_media_elsewhere.xml")
CALLER_HZ, ENGINE_HZ = 1000.0, 600.0
REFERENCE = 0.1  # tone amplitude, share of full scale (-20 dBFS peak)
BEFORE_S, BURST_S, AFTER_S = 2.0, 0.5, 2.0
TOLERANCE_DB = 1.0


class _Quiet:
    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        pass


@pytest.fixture
async def node() -> AsyncIterator[tuple[SipNode, asyncio.Queue[tuple[SipCall, bytearray]]]]:
    settings = load_settings(overrides={"sip.host": "127.0.0.1", "sip.port": 0,
                                        "sip.rtp_port": 0, "sip.media_timeout_s": 5})
    arrived: asyncio.Queue[tuple[SipCall, bytearray]] = asyncio.Queue()

    async def answer(call: SipCall) -> None:
        await call.answer()
        assert call.media is not None
        heard = bytearray()
        await arrived.put((call, heard))
        rate = call.media.clock_rate
        call.play(tone(ENGINE_HZ, 12.0, rate, REFERENCE).tobytes())
        async for frame in call.frames():
            heard.extend(frame)

    sip_node = SipNode(settings.sip, _Quiet(), answer)
    await sip_node.start()
    try:
        yield sip_node, arrived
    finally:
        await sip_node.stop()


def tone_dbfs(samples: np.ndarray, rate: int, freq: float) -> float:
    """Level of the `freq` component, dB relative to a full-scale sine's
    peak: the median over 20 ms blocks (whole cycles of both test tones), so
    a frame lost or concealed on a busy machine does not move it."""
    step = rate // 50
    blocks = samples[: len(samples) // step * step].reshape(-1, step).astype(float)
    assert len(blocks) >= 25, f"only {len(blocks)} blocks to measure"
    phase = np.exp(-2j * np.pi * freq * np.arange(step) / rate)
    amplitudes = 2 * np.abs(blocks @ phase) / step
    return float(20 * np.log10(max(float(np.median(amplitudes)), 1e-3) / 32767))


def caller_signal(rate: int) -> tuple[np.ndarray, int, int]:
    """Tone, a full-scale square burst, tone; with the burst's first and
    last 20 ms frame index."""
    burst_t = np.arange(int(BURST_S * rate)) / rate
    burst = np.where(np.sin(2 * np.pi * 400 * burst_t) >= 0, 32767, -32767).astype("<i2")
    pcm = np.concatenate([tone(CALLER_HZ, BEFORE_S, rate, REFERENCE), burst,
                          tone(CALLER_HZ, AFTER_S, rate, REFERENCE)])
    frames_per_s = 1000 // 20
    first = int(BEFORE_S * frames_per_s)
    return pcm, first, first + int(BURST_S * frames_per_s) - 1


def engine_heard_levels(heard: bytes, rate: int) -> tuple[float, float]:
    """Caller's tone as the node received it, before and after the burst."""
    x = np.frombuffer(heard, dtype="<i2")
    step = rate // 50
    blocks = x[: len(x) // step * step].reshape(-1, step).astype(float)
    rms = np.sqrt((blocks ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.25 * 32767)
    assert len(loud), f"the node never received the caller's burst (loudest {rms.max():.0f})"
    start, end = loud[0] * step, (loud[-1] + 1) * step
    before = x[max(0, start - int(1.2 * rate)): start - int(0.2 * rate)]
    after = x[end + int(0.3 * rate): end + int(1.3 * rate)]
    return tone_dbfs(before, rate, CALLER_HZ), tone_dbfs(after, rate, CALLER_HZ)


def peer_heard_levels(peer: RtpPeer, burst: tuple[int, int]) -> tuple[float, float]:
    """Node's tone as the peer decoded it, before the burst left and after
    the node has had the burst for a while."""
    rate = CODECS[peer.codec][1]
    pcm = decode(peer.codec, peer.received.payloads)
    per_packet = len(pcm) // len(peer.received.payloads)
    sent_first, sent_last = peer.sent_at[burst[0]], peer.sent_at[burst[1]]

    def level(lo: float, hi: float) -> float:
        chosen = [pcm[i * per_packet:(i + 1) * per_packet]
                  for i, at in enumerate(peer.received.arrivals) if lo <= at < hi]
        return tone_dbfs(np.concatenate([np.zeros(0, np.int16), *chosen]), rate, ENGINE_HZ)

    return (level(sent_first - 1.2, sent_first - 0.1),
            level(sent_last + 0.6, sent_last + 1.6))


async def test_g722_levels_match_pcmu_both_ways_and_hold_after_a_loud_peak(
        node: tuple[SipNode, asyncio.Queue[tuple[SipCall, bytearray]]]) -> None:
    sip_node, arrived = node
    assert sip_node.facts is not None and sip_node.facts.udp_port is not None
    peers = {codec: RtpPeer(codec) for codec in CODECS}
    sipps = {}
    try:
        for codec, peer in peers.items():
            pt, _, clock, _ = CODECS[codec]
            cmd = sipp_cmd(sip_node.facts.udp_port, scenario=SCENARIO, service=codec.lower(),
                           timeout_s=40)
            cmd += ["-key", "rtp_port", str(peer.port), "-key", "pt", str(pt),
                    "-key", "rtpmap", f"{codec}/{clock}"]
            sipps[codec] = await asyncio.create_subprocess_exec(
                *cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        calls: dict[str, tuple[SipCall, bytearray]] = {}
        async with asyncio.timeout(20):
            while len(calls) < len(peers):
                call, heard = await arrived.get()
                calls[request_uri_user(call.info.to_uri).upper()] = (call, heard)
        bursts: dict[str, tuple[int, int]] = {}
        sends = []
        for codec, peer in peers.items():
            pcm, first, last = caller_signal(CODECS[codec][1])
            bursts[codec] = (first, last)
            sends.append(asyncio.to_thread(peer.run, encode(codec, pcm)))
        await asyncio.gather(*sends)
        for call, _ in calls.values():
            await call.hangup()
        for codec, proc in sipps.items():
            out, err = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0, (f"sipp ({codec}) exit {proc.returncode}\n"
                                          f"{out.decode()[-2000:]}\n{err.decode()[-2000:]}")
    finally:
        for proc in sipps.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for peer in peers.values():
            peer.close()

    levels: dict[str, dict[str, float]] = {}
    for codec, (call, heard) in calls.items():
        assert call.media is not None and call.media.codec.startswith(codec), call.media
        node_before, node_after = engine_heard_levels(bytes(heard), call.media.clock_rate)
        peer_before, peer_after = peer_heard_levels(peers[codec], bursts[codec])
        levels[codec] = {"node_heard": node_before, "node_heard_after_peak": node_after,
                         "peer_heard": peer_before, "peer_heard_after_peak": peer_after}
    report = {c: {k: round(v, 2) for k, v in lv.items()} for c, lv in levels.items()}
    print("levels dBFS:", report)
    sent = 20 * np.log10(REFERENCE)
    pcmu, g722 = levels["PCMU"], levels["G722"]
    # PCMU is the yardstick: it must itself be at unity, or the test measures nothing.
    for key in ("node_heard", "peer_heard"):
        assert abs(pcmu[key] - sent) <= TOLERANCE_DB, report
        assert abs(g722[key] - pcmu[key]) <= TOLERANCE_DB, report
    for codec, lv in levels.items():
        for key in ("node_heard", "peer_heard"):
            assert abs(lv[f"{key}_after_peak"] - lv[key]) <= TOLERANCE_DB, (codec, report)
