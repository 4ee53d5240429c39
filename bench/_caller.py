"""An in-process test caller for the voice benchmarks (bench helper).

A :class:`CallerNode` is a pjsua2 endpoint (``sip.node.SipNode``) in the
benchmark's own process, its RTP pinned to a port range so that
bench/_rtp_energy.py can tell its streams apart. Each :class:`BenchCall`
speaks pre-synthesized PCM (Piper, like ``callcenter dial --say``) and
follows by energy what it hears, to know when the engine's prompt has ended
or begun. Those decisions only pace the caller; the measurements are taken
on the wire.

Every utterance is logged as an :class:`Utterance` with the wall-clock time
it was queued, so the wire analysis can find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _common import ROOT  # noqa: F401  (puts the repository root on sys.path)

from callcenter.core.call import EndReason
from callcenter.core.settings import load_settings
from sip.call import SipCall
from sip.node import SipNode
from tts.piper_voice import PiperSynthesizer
from tts.settings import TtsSettings

log = logging.getLogger("bench.caller")

LOUD_RMS = 300.0  # PCM16 RMS above which a 20 ms frame counts as speech


class _Quiet:
    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        pass


def synthesize_phrases(phrases: list[str], rate: int = 8000) -> dict[str, bytes]:
    """PCM16 at `rate` for each phrase, with the bundled Piper voice."""
    voice = PiperSynthesizer(TtsSettings(cache_disk_mb=0))

    async def run() -> dict[str, bytes]:
        return {p: await voice.synthesize(p, rate) for p in phrases}

    try:
        return asyncio.run(run())
    finally:
        voice.close()


@dataclass
class Utterance:
    """One thing the caller said: when it was queued (time.time()), its
    length, and what the benchmark meant by it."""

    call: int
    kind: str  # e.g. "turn", "barge", "setup"
    text: str
    queued: float
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


class BenchCall:
    """One answered call, seen from the caller."""

    def __init__(self, index: int, call: SipCall) -> None:
        assert call.media is not None
        self.index = index
        self.call = call
        self.rate = call.media.clock_rate
        self.local_rtp: int | None = None  # filled in by the benchmark
        self._loud: list[bool] = []  # per received frame
        self._times: list[float] = []  # monotonic arrival of each frame
        self._changed = asyncio.Event()
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.call.frames():
                samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
                self._loud.append(bool(samples.size) and
                                  float(np.sqrt(np.mean(samples * samples))) > LOUD_RMS)
                self._times.append(time.monotonic())
                self._changed.set()

    @property
    def ended(self) -> bool:
        return self.call.ended.done()

    @property
    def mark(self) -> int:
        """A position in what was heard, for the waits below."""
        return len(self._loud)

    async def _tick(self, deadline: float) -> bool:
        """Wait for more frames; False at the deadline or when the call ended."""
        if self.ended or time.monotonic() >= deadline:
            return False
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), min(0.2, deadline - time.monotonic()))
        return not self.ended

    async def wait_speech(self, since: int, timeout: float) -> int | None:
        """Index of the first loud frame heard at or after `since`."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(since, len(self._loud)):
                if self._loud[i]:
                    return i
            since = len(self._loud)
            if not await self._tick(deadline):
                return None

    async def wait_prompt_end(self, since: int, quiet_s: float, timeout: float) -> bool:
        """Until the engine has spoken after `since` and then been quiet for `quiet_s`."""
        deadline = time.monotonic() + timeout
        quiet_frames = round(quiet_s * 50)
        while True:
            loud = self._loud[since:]
            if any(loud):
                last = len(loud) - 1 - loud[::-1].index(True)
                if len(loud) - 1 - last >= quiet_frames:
                    return True
            if not await self._tick(deadline):
                return False

    async def wait_quiet(self, quiet_s: float, timeout: float) -> bool:
        """Until nothing loud has been heard for `quiet_s`."""
        deadline = time.monotonic() + timeout
        quiet_frames = round(quiet_s * 50)
        while True:
            tail = self._loud[-quiet_frames:]
            if len(tail) >= quiet_frames and not any(tail):
                return True
            if not await self._tick(deadline):
                return False

    def say(self, pcm: bytes) -> tuple[float, asyncio.Future[bool]]:
        """Queue `pcm`; returns the wall-clock time it was queued and its future."""
        queued = time.time()
        return queued, self.call.play(pcm)

    async def hangup(self) -> None:
        if not self.ended:
            with contextlib.suppress(Exception):
                await self.call.hangup(EndReason.CALLER_HANGUP)

    async def close(self) -> None:
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._listener


class CallerNode:
    """A pjsua2 endpoint dialling from `from_user`, RTP in [rtp_port, +range)."""

    def __init__(self, rtp_port: int, rtp_range: int, from_user: str = "100",
                 max_calls: int = 4) -> None:
        """`max_calls` above 4 needs the dense pjsua2 build."""
        self.settings = load_settings(overrides={
            "sip.host": "127.0.0.1", "sip.port": 0, "sip.rtp_port": rtp_port,
            "sip.rtp_port_range": rtp_range, "sip.trunks": [], "sip.local_user": from_user,
            "sip.media_timeout_s": 30, "sip.max_calls": max_calls})
        self.node: SipNode | None = None
        self.calls: list[BenchCall] = []

    async def start(self) -> None:
        self.node = SipNode(self.settings.sip, _Quiet())
        await self.node.start()

    async def dial(self, uri: str) -> BenchCall:
        assert self.node is not None
        call = await self.node.dial(uri)
        bench_call = BenchCall(len(self.calls), call)
        self.calls.append(bench_call)
        return bench_call

    async def stop(self) -> None:
        for c in self.calls:
            await c.hangup()
        for c in self.calls:
            with contextlib.suppress(Exception):
                await self.node.wait_ended(c.call, timeout=5) if self.node else None
            await c.close()
        if self.node is not None:
            await self.node.stop()
            self.node = None



def remote_rtp_port(call: SipCall) -> int | None:
    """The far end's RTP port of `call` (the engine's, seen from the caller)."""
    try:
        return int(str(call.media.remote_rtp).rsplit(":", 1)[1]) if call.media else None
    except (ValueError, IndexError):
        return None
