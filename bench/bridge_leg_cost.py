"""CPU of pjmedia's clock thread per leg per 20 ms tick, inside the real bridge.

Prints ONE JSON line on stdout (everything else goes to stderr).

For each clock rate (8 and 16 kHz) a child process starts an endpoint with
the null sound device (the clock) and wires ``--legs`` legs into the bridge
exactly as calls do: ``LegAudio.attach`` with ports from a real
:class:`PortPool`, a looping ToneGenerator standing in for each RTP stream,
an asyncio thread draining the inboxes, the recorder thread running, audio
queued for every leg. The clock thread's CPU time (its per-thread CPU clock)
is divided by legs x ticks:

- ``bridge``: the real ports (ctypes ``pjmedia_port``s of sip/media_port.py,
  recorded, so both the engine port and the heard tap call up into Python);
- ``baseline``: ports of the same kind with empty callbacks, wired the same
  way (ctypes up-call, GIL hand-over, bridge mixing), so ``body`` = bridge -
  baseline is the Python cost of the callbacks in situ;
- ``unrecorded``: the real ports with no recording, so the heard tap is
  inactive (its callback pointers NULL: no up-call).

Informational: no target; ``pass`` only says every run completed. Ports are
never deleted while the clock runs; each run stops the clock (``setNoDev``)
and restarts it, so every run gets a fresh clock thread.
"""

from __future__ import annotations

import argparse
import asyncio
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
    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.leg_audio import FRAME_MS, LegAudio, PortPool, frame_bytes
    from sip.media_port import MediaPort, conf_connect, conf_disconnect, create_pool
    from sip.recording import RecordingWriter

    fb = frame_bytes(rate)
    tls = threading.local()

    class Probe:
        """Counts clock ticks, remembers the clock thread and the tick gaps."""

        def __init__(self) -> None:
            self.tids: set[int] = set()
            self.ticks = self.last = self.max_gap_ns = self.fresh_tstates = 0
            self.measure = False

        def tick(self) -> bytes:
            now = time.monotonic_ns()
            self.ticks += 1
            if self.measure and self.last:
                self.max_gap_ns = max(self.max_gap_ns, now - self.last)
            self.last = now
            self.tids.add(threading.get_native_id())
            if not hasattr(tls, "seen"):  # thread-locals live in the thread state
                tls.seen = True
                self.fresh_tstates += self.measure
            return bytes(fb)

    # Everything below lives until the clock has stopped for good.
    adm = ep.audDevManager()
    adm.setNoDev()
    bridge_pool = create_pool("bench")
    streams = tone_generators(rate, legs)
    stream_slots = [int(s.getPortId()) for s in streams]
    pool = PortPool()
    probe = Probe()
    probe_port = MediaPort("probe", rate, FRAME_MS)
    probe_port.source = probe.tick
    probe_port.add_to_bridge(bridge_pool)
    nulls = [MediaPort(f"null{i}", rate, FRAME_MS) for i in range(2 * legs)]
    for port in nulls:
        port.sink = lambda data: None
        port.source = lambda: bytes(fb)
        port.add_to_bridge(bridge_pool)
    prompt = audio.tone(660.0, 2.0, rate).tobytes()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))

    def one_run(kind: str) -> dict[str, Any]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="asyncio", daemon=True)
        thread.start()
        writer = RecordingWriter(flush_interval_s=1.0)
        writer.start()
        probe.max_gap_ns = probe.last = 0
        probe.tids.clear()
        conf_connect(probe_port.slot, probe_port.slot)
        wired: list[Any] = []
        consumers = []
        try:
            for i, slot in enumerate(stream_slots):
                if kind != "baseline":
                    leg = LegAudio(pool, rate, FrameInbox(loop), FrameOutbox(loop, fb))
                    if kind == "bridge":
                        leg.recording = writer.open(tmp / f"{kind}-{rate}-{i}.wav", rate)
                    consumers.append(asyncio.run_coroutine_threadsafe(consume(leg.inbox), loop))
                    for _ in range(30):  # 60 s of prompts: no underrun in the window
                        loop.call_soon_threadsafe(leg.outbox.queue, prompt)
                    leg.attach(slot)  # the routes of a live call
                    wired.append(leg)
                else:
                    eng, tap = nulls[2 * i].slot, nulls[2 * i + 1].slot
                    routes = [(slot, eng), (eng, slot), (eng, tap)]
                    for source, sink in routes:
                        conf_connect(source, sink)
                    wired.append(routes)
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
            if kind != "baseline":
                res["inbox_dropped"] = sum(leg.inbox.dropped for leg in wired)
                res["underrun"] = any(not leg.outbox.busy for leg in wired)
            return res
        finally:
            adm.setNoDev()
            conf_disconnect(probe_port.slot, probe_port.slot)
            for obj in wired:
                if kind != "baseline":
                    obj.detach([])  # the pool keeps the ports for the next run
                else:
                    for source, sink in obj:
                        conf_disconnect(source, sink)
            writer.stop()
            for c in consumers:
                c.cancel()
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    base = one_run("baseline")
    real = one_run("bridge")
    unrecorded = one_run("unrecorded")
    keep = pool.destroy()  # the clock has stopped; memory lives until libDestroy
    child.keep = [keep, nulls, probe_port]  # type: ignore[attr-defined]
    shutil.rmtree(tmp, ignore_errors=True)
    return {"rate": rate, "legs": legs, "window_s": window_s, "pooled_ports": 2 * legs,
            "bridge": real, "baseline": base, "unrecorded": unrecorded,
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
        result[f"unrecorded_us_per_leg_tick_{k}"] = r["unrecorded"]["us_per_leg_tick"]
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
