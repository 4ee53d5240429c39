"""Python cost per 20 ms frame in the media callbacks, at 8 kHz and 16 kHz.

Prints ONE JSON line on stdout (everything else goes to stderr).

The real ports of :mod:`sip.leg_audio` (ctypes ``pjmedia_port`` structs of
:mod:`sip.media_port`) are called the way the bridge calls them, through
pjmedia's own ``pjmedia_port_put_frame``/``get_frame`` with a C
``pjmedia_frame``, so the ctypes up-call is part of what is timed. They are
bound to a :class:`LegAudio` with a consumer listening on its inbox and a
real recording:

- ``recv`` = the engine port's put_frame (copy out of the C buffer +
  FrameInbox.put, every frame scheduling a loop wake-up as in a live call,
  + add_caller);
- ``tap`` = the heard tap's put_frame (copy + add_heard);
- ``send`` = the engine port's get_frame (FrameOutbox.pull with audio queued
  + copy into the C buffer);
- ``call_overhead`` = the same entry into C and back with a port whose
  callbacks do nothing: the share of each figure that is ctypes' own.

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
    import ctypes

    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.leg_audio import LegAudio, PortPool, _EnginePort, _HeardTap, frame_bytes
    from sip.media_port import FRAME_TYPE_AUDIO, MediaPort, _Frame, pj_lib
    from sip.recording import RecordingWriter

    lib = pj_lib()
    fb = frame_bytes(rate)
    loop = asyncio.new_event_loop()
    writer = RecordingWriter()  # not started: flushed between batches instead
    tone = audio.tone(440.0, 4.0, rate).tobytes()
    payloads = [tone[i:i + fb] for i in range(0, len(tone) - fb + 1, fb)]
    buffers = [ctypes.create_string_buffer(p, fb) for p in payloads]
    out_buf = ctypes.create_string_buffer(fb)
    frame = _Frame()
    frame_addr = ctypes.addressof(frame)

    # Not acquired from the pool: that would register the ports with the
    # bridge. These are built the same way and bound by hand.
    leg = LegAudio(PortPool(), rate, FrameInbox(loop), FrameOutbox(loop, fb))
    leg.recording = rec = writer.open(tmp / f"leg-{rate}.wav", rate)
    engine = _EnginePort(MediaPort("engine", rate))
    tap = _HeardTap(MediaPort("heard", rate))
    engine.bind(leg)
    tap.bind(leg)
    idle = MediaPort("idle", rate)
    idle.sink = lambda data: None
    idle.source = lambda: payloads[0]
    consumer = loop.create_task(consume(leg.inbox))
    _drain(loop)
    assert leg.inbox.listening

    def time_put(port: MediaPort, n: int, batch: int) -> list[int]:
        out: list[int] = []
        for start in range(0, n, batch):
            for i in range(min(batch, n - start)):
                buf = buffers[i % len(buffers)]
                frame.type, frame.buf, frame.size = FRAME_TYPE_AUDIO, ctypes.addressof(buf), fb
                leg.inbox._wake_pending = False  # the consumer kept up: wake per frame
                t0 = pc()
                lib.pjmedia_port_put_frame(port.address, frame_addr)
                out.append(pc() - t0)
            _drain(loop)
            writer.flush_all()
        return out

    def time_get(port: MediaPort, n: int, batch: int, queued: bool = True) -> list[int]:
        out: list[int] = []
        segment = tone[: 2 * rate * 2 // fb * fb + fb // 2]  # ~2 s, ends mid-frame
        for start in range(0, n, batch):
            count = min(batch, n - start)
            leg.outbox.clear()
            while queued and len(leg.outbox._segments) * len(segment) < (count + 2) * fb:
                leg.outbox.queue(segment)
            for _ in range(count):
                frame.type, frame.buf, frame.size = 0, ctypes.addressof(out_buf), fb
                t0 = pc()
                lib.pjmedia_port_get_frame(port.address, frame_addr)
                out.append(pc() - t0)
            _drain(loop)
        return out

    # What is timed is correct: what the bridge gets is the audio queued,
    # and what the bridge gives reaches the inbox.
    leg.outbox.queue(tone[: 3 * fb])
    frame.type, frame.buf, frame.size = 0, ctypes.addressof(out_buf), fb
    lib.pjmedia_port_get_frame(engine.port.address, frame_addr)
    assert out_buf.raw == tone[:fb] and frame.type == FRAME_TYPE_AUDIO
    leg.outbox.clear()

    n, batch = 20000, 400  # batch < the inbox's 500 frames
    for _ in range(2):  # warm-up
        time_put(engine.port, 2000, batch)
        time_get(engine.port, 2000, batch)
    with _GcWatch() as gcw:
        recv = time_put(engine.port, n, batch)
    res: dict[str, Any] = {
        "recv": _summary(recv),
        "tap": _summary(time_put(tap.port, n, batch)),
        "send": _summary(time_get(engine.port, n, batch)),
        "send_underrun": _summary(time_get(engine.port, 5000, batch, queued=False)),
        "call_overhead_put": _summary(time_put(idle, n, batch)),
        "call_overhead_get": _summary(time_get(idle, n, batch)),
        "recv_gc": {"collections": gcw.count, "max_pause_us": round(gcw.max_pause_ns / 1000, 1)},
        "recv_over_100us": sum(1 for x in recv if x > 100_000),
    }
    overhead = []
    for _ in range(10000):
        t0 = pc()
        overhead.append(pc() - t0)
    res["timer_overhead_us"] = _summary(overhead)["p50"]
    res["dropped"] = {"inbox": leg.inbox.dropped, "recording": rec.dropped_frames}

    consumer.cancel()
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
    # pjmedia wants a library instance. The ports measured here never join
    # its bridge, so one endpoint serves both rates.
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
        for name in ("recv", "send", "tap", "call_overhead_put", "call_overhead_get"):
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
