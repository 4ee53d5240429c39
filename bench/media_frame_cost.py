"""Python cost per 20 ms frame in the media callbacks, at 8 kHz and 16 kHz.

Prints ONE JSON line on stdout (everything else goes to stderr).

The real port classes of :mod:`sip.leg_audio` are called directly with real
``pj.MediaFrame`` objects and each call is timed with ``perf_counter_ns``.
The ports are built as the :class:`PortPool` builds them and bound (``.leg``)
to a :class:`LegAudio`, with a consumer listening on its inbox and a real
recording:

- ``recv`` = ``_EnginePort.onFrameReceived`` (FrameIO.read + FrameInbox.put,
  every frame scheduling a loop wake-up as in a live call, + add_caller);
- ``tap`` = ``_HeardTap.onFrameReceived`` (read + add_heard);
- ``send`` = ``_EnginePort.onFrameRequested`` (FrameOutbox.pull with audio
  queued + FrameIO.write into a fresh frame, as pjsua2's get_frame passes it);
- ``slow_*``: the same ports over the SWIG copies, for comparison.

Between batches (untimed) the loop runs its callbacks and the recorder
flushes. ``target_us`` gates the median recv and send cost at both rates.
The cost inside the running bridge is bench/bridge_leg_cost.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import consume, json_stdout, setup_logging, start_endpoint

from tests.support import audio

TARGET_US = 10.0
RATES = (8000, 16000)
log = logging.getLogger("bench.media_frame_cost")
pc = time.perf_counter_ns


def _summary(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)

    def pct(q: float) -> float:
        return round(s[round(q * (len(s) - 1))] / 1000.0, 2)

    return {"p50": pct(0.50), "p99": pct(0.99), "max": round(s[-1] / 1000.0, 1), "n": len(s)}


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Run the callbacks the media side scheduled; the consumers drain."""
    for _ in range(4):
        loop.call_soon(loop.stop)
        loop.run_forever()


class _GcWatch:
    """Counts garbage collections and their longest pause."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.max_pause_ns = 0
        self._t0 = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = pc()
        else:
            self.count[info["generation"]] += 1
            self.max_pause_ns = max(self.max_pause_ns, pc() - self._t0)

    def __enter__(self) -> _GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def run_rate(rate: int, tmp: Path) -> dict[str, Any]:
    """Every measurement at one clock rate."""
    import pjsua2 as pj

    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.frame_io import FrameIO, _read_slow
    from sip.leg_audio import LegAudio, PortPool, _EnginePort, _HeardTap, frame_bytes
    from sip.recording import CallRecording, RecordingWriter

    fb = frame_bytes(rate)
    loop = asyncio.new_event_loop()
    writer = RecordingWriter()  # not started: flushed between batches instead
    io_fast = FrameIO()
    if not io_fast.fast:
        raise RuntimeError("FrameIO fast path rejected by verify_fast_path()")
    io_slow = FrameIO()
    io_slow.fast = False
    io_slow._read = _read_slow
    tone = audio.tone(440.0, 4.0, rate).tobytes()
    payloads = [tone[i:i + fb] for i in range(0, len(tone) - fb + 1, fb)]
    consumers = []

    def make_leg(io: FrameIO, name: str) -> tuple[LegAudio, Any, Any, CallRecording]:
        # Not acquired from the pool: that would register the ports with the
        # bridge. These are built the same way and bound by hand.
        leg = LegAudio(PortPool(io), rate, FrameInbox(loop), FrameOutbox(loop, fb))
        leg.recording = rec = writer.open(tmp / f"{name}-{rate}.wav", rate)
        engine, tap = _EnginePort(io, rate), _HeardTap(io, rate)
        engine.leg = tap.leg = leg
        consumers.append(loop.create_task(consume(leg.inbox)))
        _drain(loop)
        assert leg.inbox.listening
        return leg, engine, tap, rec

    def rx_frames(n: int) -> list[Any]:
        # What put_frame hands the director: buf assigned from the C frame.
        frames = []
        for i in range(n):
            f = pj.MediaFrame()
            f.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            f.buf = pj.ByteVector(payloads[i % len(payloads)])
            f.size = fb
            frames.append(f)
        return frames

    def tx_frames(n: int) -> list[Any]:
        # What get_frame hands the director: a fresh frame, empty buf, size set.
        frames = []
        for _ in range(n):
            f = pj.MediaFrame()
            f.size = fb
            frames.append(f)
        return frames

    def time_rx(leg: LegAudio, call: Callable[[Any], None], n: int, batch: int) -> list[int]:
        out: list[int] = []
        for start in range(0, n, batch):
            for f in rx_frames(min(batch, n - start)):
                leg.inbox._wake_pending = False  # the consumer kept up: wake per frame
                t0 = pc()
                call(f)
                out.append(pc() - t0)
            _drain(loop)
            writer.flush_all()
        return out

    def time_send(leg: LegAudio, engine: Any, n: int, batch: int, queued: bool = True
                  ) -> list[int]:
        out: list[int] = []
        segment = tone[: 2 * rate * 2 // fb * fb + fb // 2]  # ~2 s, ends mid-frame
        for start in range(0, n, batch):
            count = min(batch, n - start)
            leg.outbox.clear()
            while queued and len(leg.outbox._segments) * len(segment) < (count + 2) * fb:
                leg.outbox.queue(segment)
            for f in tx_frames(count):
                t0 = pc()
                engine.onFrameRequested(f)
                out.append(pc() - t0)
            _drain(loop)
        return out

    leg, engine, tap, rec = make_leg(io_fast, "fast")
    slow_leg, slow_engine, _, _ = make_leg(io_slow, "slow")

    # What is timed is correct: the frame written is the audio queued.
    leg.outbox.queue(tone[: 3 * fb])
    f = tx_frames(1)[0]
    engine.onFrameRequested(f)
    assert bytes(bytearray(f.buf)) == tone[:fb] and f.type == pj.PJMEDIA_FRAME_TYPE_AUDIO
    leg.outbox.clear()

    n, n_slow, batch = 20000, 600, 400  # batch < the inbox's 500 frames
    for _ in range(2):  # warm-up
        time_rx(leg, engine.onFrameReceived, 2000, batch)
        time_send(leg, engine, 2000, batch)
    with _GcWatch() as gcw:
        recv = time_rx(leg, engine.onFrameReceived, n, batch)
    res: dict[str, Any] = {
        "recv": _summary(recv),
        "tap": _summary(time_rx(leg, tap.onFrameReceived, n, batch)),
        "send": _summary(time_send(leg, engine, n, batch)),
        "send_underrun": _summary(time_send(leg, engine, 5000, batch, queued=False)),
        "slow_recv": _summary(time_rx(slow_leg, slow_engine.onFrameReceived, n_slow, 200)),
        "slow_send": _summary(time_send(slow_leg, slow_engine, n_slow, 200)),
        "recv_gc": {"collections": gcw.count, "max_pause_us": round(gcw.max_pause_ns / 1000, 1)},
        "recv_over_100us": sum(1 for x in recv if x > 100_000),
    }

    # Where the time goes (p50 of each step of the bodies).
    parts: dict[str, list[int]] = {k: [] for k in ("read", "inbox_put", "add_caller",
                                                    "pull", "write")}
    for _ in range(10):
        for f in rx_frames(batch):
            t0 = pc(); data = io_fast.read(f); t1 = pc()  # noqa: E702
            leg.inbox._wake_pending = False
            t2 = pc(); leg.inbox.put(data); t3 = pc()  # noqa: E702
            t4 = pc(); rec.add_caller(data); t5 = pc()  # noqa: E702
            parts["read"].append(t1 - t0)
            parts["inbox_put"].append(t3 - t2)
            parts["add_caller"].append(t5 - t4)
        _drain(loop)
        writer.flush_all()
    leg.outbox.queue(tone)
    for f in tx_frames(5000):
        t0 = pc(); chunk = leg.outbox.pull(); t1 = pc()  # noqa: E702
        t2 = pc(); io_fast.write(f, chunk); t3 = pc()  # noqa: E702
        parts["pull"].append(t1 - t0)
        parts["write"].append(t3 - t2)
    _drain(loop)
    res["parts_p50_us"] = {k: _summary(v)["p50"] for k, v in parts.items()}
    overhead = []
    for _ in range(10000):
        t0 = pc()
        overhead.append(pc() - t0)
    res["timer_overhead_us"] = _summary(overhead)["p50"]
    res["dropped"] = {"inbox": leg.inbox.dropped, "recording": rec.dropped_frames}

    for task in consumers:
        task.cancel()
    _drain(loop)
    writer.stop()
    loop.close()
    return res


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    out = json_stdout()
    started = time.monotonic()
    per_rate: dict[str, Any] = {}
    error = None
    # pjsua2's port objects want a library instance. The ports measured here
    # never join its bridge, so one endpoint serves both rates.
    ep = start_endpoint(RATES[0])
    with tempfile.TemporaryDirectory(prefix="bench-frame-") as d:
        for rate in RATES:
            try:
                per_rate[str(rate)] = run_rate(rate, Path(d))
            except Exception as exc:  # report it in the JSON line
                log.exception("rate %d failed", rate)
                error = f"{type(exc).__name__}: {exc}"
                break
    ep.libDestroy()

    result: dict[str, Any] = {"bench": "media_frame_cost", "rates": list(RATES)}
    ok = error is None
    if ok:
        for name in ("recv", "send", "tap", "slow_recv", "slow_send"):
            for stat in ("p50", "p99") if name in ("recv", "send", "tap") else ("p50",):
                result[f"{name}_us_{stat}"] = max(per_rate[str(r)][name][stat] for r in RATES)
            for r in RATES:
                result[f"{name}_us_p50_{r // 1000}k"] = per_rate[str(r)][name]["p50"]
        result["per_rate"] = per_rate
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine
    result["target_us"] = TARGET_US
    result["pass"] = bool(ok and result["recv_us_p50"] <= TARGET_US
                          and result["send_us_p50"] <= TARGET_US)
    if error:
        result["error"] = error
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
