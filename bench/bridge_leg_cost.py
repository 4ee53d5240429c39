"""CPU of pjmedia's clock thread per leg per 20 ms tick, inside the real bridge.

Prints ONE JSON line on stdout (everything else goes to stderr).

For each clock rate (8 and 16 kHz) a child process starts an endpoint with
the null sound device (the clock) and wires ``--legs`` legs into the bridge
exactly as calls do: ``LegAudio.attach`` with ports from a real
:class:`PortPool`, a looping ToneGenerator standing in for each RTP stream,
an asyncio thread draining the inboxes, the recorder thread running, audio
queued for every leg. The clock thread's CPU time (its per-thread CPU clock)
is divided by legs x ticks:

- ``bridge``: the real ports;
- ``baseline``: empty Python ports wired the same way (SWIG director up-call,
  GIL hand-over, bridge mixing), so ``body`` = bridge - baseline is the
  Python cost of the callbacks in situ;
- ``pinned_*``: both again with a Python thread state pinned on the clock
  thread (what the director costs when it does not create and destroy one
  on every up-call).

Informational: no target; ``pass`` only says every run completed. Ports are
never deleted while the clock runs; each run stops the clock (``setNoDev``)
and restarts it, so every run gets a fresh clock thread.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import (
    consume,
    json_stdout,
    run_child,
    setup_logging,
    start_endpoint,
    tone_generators,
)

from tests.support import audio

RATES = (8000, 16000)
log = logging.getLogger("bench.bridge_leg_cost")


def child(ep: Any, rate: int, legs: int, window_s: float) -> dict[str, Any]:
    import pjsua2 as pj

    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.frame_io import FrameIO
    from sip.leg_audio import FRAME_MS, LegAudio, PortPool, frame_bytes
    from sip.recording import RecordingWriter

    fb = frame_bytes(rate)
    fmt = pj.MediaFormatAudio()
    fmt.init(pj.PJMEDIA_FORMAT_PCM, rate, 1, FRAME_MS * 1000, 16)
    tls = threading.local()
    pinned: set[int] = set()

    class Probe(pj.AudioMediaPort):  # type: ignore[misc]
        """Counts clock ticks, remembers the clock thread and the tick gaps."""

        def __init__(self) -> None:
            super().__init__()
            self.tids: set[int] = set()
            self.ticks = self.last = self.max_gap_ns = self.fresh_tstates = 0
            self.measure = self.pin = False

        def onFrameRequested(self, frame: Any) -> None:  # noqa: N802 (pjsua2 name)
            now = time.monotonic_ns()
            self.ticks += 1
            if self.measure and self.last:
                self.max_gap_ns = max(self.max_gap_ns, now - self.last)
            self.last = now
            tid = threading.get_native_id()
            self.tids.add(tid)
            if not hasattr(tls, "seen"):  # thread-locals live in the thread state
                tls.seen = True
                self.fresh_tstates += self.measure
            if self.pin and tid not in pinned:
                # One unmatched PyGILState_Ensure keeps the clock thread's
                # Python thread state alive between director up-calls.
                ctypes.pythonapi.PyGILState_Ensure()
                pinned.add(tid)

        def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
            pass

    class NullPort(pj.AudioMediaPort):  # type: ignore[misc]
        def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
            pass

        def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
            pass

    # Everything below lives until the clock has stopped for good.
    adm = ep.audDevManager()
    adm.setNoDev()
    streams = tone_generators(rate, legs)
    pool = PortPool(FrameIO())
    probe = Probe()
    probe.createPort("probe", fmt)
    nulls = [NullPort() for _ in range(2 * legs)]
    for i, port in enumerate(nulls):
        port.createPort(f"null{i}", fmt)
    prompt = audio.tone(660.0, 2.0, rate).tobytes()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))

    def one_run(real: bool, tag: str, pin: bool) -> dict[str, Any]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="asyncio", daemon=True)
        thread.start()
        writer = RecordingWriter(flush_interval_s=1.0)
        writer.start()
        probe.pin, probe.max_gap_ns, probe.last = pin, 0, 0
        probe.tids.clear()
        probe.startTransmit(probe)
        wired: list[Any] = []
        consumers = []
        try:
            for i, stream in enumerate(streams):
                if real:
                    leg = LegAudio(pool, rate, FrameInbox(loop), FrameOutbox(loop, fb))
                    leg.recording = writer.open(tmp / f"{tag}-{rate}-{i}.wav", rate)
                    consumers.append(asyncio.run_coroutine_threadsafe(consume(leg.inbox), loop))
                    for _ in range(30):  # 60 s of prompts: no underrun in the window
                        loop.call_soon_threadsafe(leg.outbox.queue, prompt)
                    leg.attach(stream)  # the routes of a live call
                    wired.append(leg)
                else:
                    eng, tap = nulls[2 * i], nulls[2 * i + 1]
                    stream.startTransmit(eng)
                    eng.startTransmit(stream)
                    eng.startTransmit(tap)
                    wired.append((stream, eng, tap))
            adm.setNullDev()  # start the clock: a fresh clock thread
            time.sleep(0.4)  # settle
            if len(probe.tids) != 1:
                raise RuntimeError(f"callbacks on several threads: {probe.tids}")
            tid = next(iter(probe.tids))
            clk = ((~tid) << 3) | 6  # Linux: the thread's CPU clock (CPUCLOCK_SCHED)
            probe.measure = True
            cpu0, ticks0, wall0 = time.clock_gettime_ns(clk), probe.ticks, time.monotonic_ns()
            time.sleep(window_s)
            cpu1, ticks1, wall1 = time.clock_gettime_ns(clk), probe.ticks, time.monotonic_ns()
            probe.measure = False
            ticks = ticks1 - ticks0
            res = {"us_per_leg_tick": round((cpu1 - cpu0) / 1000 / (ticks * legs), 2),
                   "clock_thread_cpu_pct": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
                   "ticks": ticks, "tick_gap_max_ms": round(probe.max_gap_ns / 1e6, 1),
                   "fresh_tstates_per_tick": round(probe.fresh_tstates / max(ticks, 1), 2)}
            probe.fresh_tstates = 0
            if real:
                res["inbox_dropped"] = sum(leg.inbox.dropped for leg in wired)
                res["underrun"] = any(not leg.outbox.busy for leg in wired)
            return res
        finally:
            adm.setNoDev()
            probe.stopTransmit(probe)
            for obj in wired:
                if real:
                    obj.detach([])  # the pool keeps the ports for the next run
                else:
                    stream, eng, tap = obj
                    stream.stopTransmit(eng)
                    eng.stopTransmit(stream)
                    eng.stopTransmit(tap)
            writer.stop()
            for c in consumers:
                c.cancel()
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    # Pinning lasts as long as a clock thread; each run starts a new one.
    base = one_run(False, "null", pin=False)
    real = one_run(True, "real", pin=False)
    real_pin = one_run(True, "realpin", pin=True)
    base_pin = one_run(False, "nullpin", pin=True)
    pool.destroy()  # the clock has stopped
    shutil.rmtree(tmp, ignore_errors=True)
    return {"rate": rate, "legs": legs, "window_s": window_s, "pooled_ports": 2 * legs,
            "bridge": real, "baseline": base, "pinned": real_pin, "pinned_baseline": base_pin,
            "body_us_per_leg_tick": round(real["us_per_leg_tick"]
                                          - base["us_per_leg_tick"], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child-rate", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--legs", type=int, default=32, help="legs in the bridge")
    ap.add_argument("--window", type=float, default=1.2, help="measured window per run, s")
    args = ap.parse_args()
    setup_logging()
    if args.child_rate:
        out = json_stdout()
        ep = start_endpoint(args.child_rate)
        out.write(json.dumps(child(ep, args.child_rate, args.legs, args.window)) + "\n")
        out.flush()
        ep.libDestroy()
        return 0

    started = time.monotonic()
    result: dict[str, Any] = {"bench": "bridge_leg_cost", "rates": list(RATES),
                              "legs": args.legs}
    error = None
    for rate in RATES:
        try:
            code, r = run_child([__file__, "--child-rate", str(rate), "--legs",
                                 str(args.legs), "--window", str(args.window)], timeout=60)
            if code != 0 or r is None:
                raise RuntimeError(f"child for {rate} Hz exited {code}")
        except Exception as exc:  # report it in the JSON line
            error = f"{type(exc).__name__}: {exc}"
            log.error("rate %d: %s", rate, error)
            break
        k = f"{rate // 1000}k"
        result[f"us_per_leg_tick_{k}"] = r["bridge"]["us_per_leg_tick"]
        result[f"baseline_us_per_leg_tick_{k}"] = r["baseline"]["us_per_leg_tick"]
        result[f"body_us_per_leg_tick_{k}"] = r["body_us_per_leg_tick"]
        result[f"pinned_us_per_leg_tick_{k}"] = r["pinned"]["us_per_leg_tick"]
        result[f"pinned_baseline_us_per_leg_tick_{k}"] = r["pinned_baseline"]["us_per_leg_tick"]
        result[f"clock_thread_cpu_pct_{k}"] = r["bridge"]["clock_thread_cpu_pct"]
        result[f"tick_gap_max_ms_{k}"] = r["bridge"]["tick_gap_max_ms"]
        result.setdefault("per_rate", {})[str(rate)] = r
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    result["target"] = None  # informational
    result["pass"] = error is None
    if error:
        result["error"] = error
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
