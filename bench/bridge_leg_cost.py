"""CPU of pjmedia's clock thread per leg per 20 ms tick, inside the real bridge.

Prints ONE JSON line on stdout (everything else goes to stderr).

For each clock rate (8 and 16 kHz) a child process starts an endpoint with
the null sound device (the clock) and wires ``--legs`` legs into the bridge
exactly as calls do: ``LegAudio.attach`` with ports from a real
:class:`PortPool`, a looping ToneGenerator standing in for each RTP stream,
an asyncio thread draining the inboxes, the recorder thread running, audio
queued for every leg. The clock thread's CPU time (its per-thread CPU clock)
is divided by legs x ticks:

- ``bridge``: the real ring ports of sip/media_port.py, recorded, with the
  media pump moving every leg's audio (the clock thread runs C only);
- ``baseline``: the same ports wired the same way, their rings disabled
  (bridge mixing and the C callbacks' calls), so ``body`` = bridge -
  baseline is what copying frames through the rings costs the clock;
- ``unrecorded``: the real ports with no recording (the tap's ring off).

The pump thread's own CPU (``pump_cpu_pct``, ``pump_us_per_leg_cycle``) is
reported beside it: that is the Python half of the media path.

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
    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.leg_audio import FRAME_MS, LegAudio, PortPool, frame_bytes
    from sip.media_port import (
        MediaPort,
        _PjStr,
        conf_connect,
        conf_disconnect,
        create_pool,
        pj_lib,
        port_layout,
    )
    from sip.media_pump import MediaPump
    from sip.recording import RecordingWriter

    fb = frame_bytes(rate)
    tls = threading.local()

    class Probe:
        """A one-slot ctypes port whose get_frame counts clock ticks."""

        callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

        def __init__(self) -> None:
            self.tids: set[int] = set()
            self.ticks = self.last = self.max_gap_ns = self.fresh_tstates = 0
            self.measure = False
            self.struct = (ctypes.c_ubyte * 256)()
            self._get = self.callback(self._on_get)
            name = _PjStr(b"probe", 5)
            pj_lib().pjmedia_port_info_init(ctypes.addressof(self.struct), ctypes.byref(name),
                                            0x50524F42, rate, 1, 16, rate // 50)
            ctypes.c_void_p.from_buffer(self.struct, port_layout().get_frame).value = (
                ctypes.cast(self._get, ctypes.c_void_p).value)
            slot = ctypes.c_int(-1)
            pj_lib().pjsua_conf_add_port(ctypes.c_void_p(bridge_pool),
                                         ctypes.addressof(self.struct), ctypes.byref(slot))
            self.slot = slot.value

        def _on_get(self, _port: int | None, frame: int | None) -> int:
            now = time.monotonic_ns()
            self.ticks += 1
            if self.measure and self.last:
                self.max_gap_ns = max(self.max_gap_ns, now - self.last)
            self.last = now
            self.tids.add(threading.get_native_id())
            if not hasattr(tls, "seen"):  # thread-locals live in the thread state
                tls.seen = True
                self.fresh_tstates += self.measure
            return 0

    # Everything below lives until the clock has stopped for good.
    adm = ep.audDevManager()
    adm.setNoDev()
    bridge_pool = create_pool("bench")
    pump = MediaPump()
    streams = tone_generators(rate, legs)
    stream_slots = [int(s.getPortId()) for s in streams]
    pool = PortPool(pump)
    probe = Probe()
    nulls = [MediaPort(f"null{i}", rate, FRAME_MS) for i in range(2 * legs)]
    for port in nulls:
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
        conf_connect(probe.slot, probe.slot)
        pump.start()
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
            pump_tid = pump.native_id or 0
            pclk = ((~pump_tid) << 3) | 6
            cpu0, ticks0, wall0 = time.clock_gettime_ns(clk), probe.ticks, time.monotonic_ns()
            pcpu0, cycles0 = time.clock_gettime_ns(pclk), pump.cycles
            time.sleep(window_s)
            cpu1, ticks1, wall1 = time.clock_gettime_ns(clk), probe.ticks, time.monotonic_ns()
            pcpu1, cycles1 = time.clock_gettime_ns(pclk), pump.cycles
            probe.measure = False
            ticks = ticks1 - ticks0
            res = {"us_per_leg_tick": round((cpu1 - cpu0) / 1000 / (ticks * legs), 2),
                   "clock_thread_cpu_pct": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
                   "ticks": ticks, "tick_gap_max_ms": round(probe.max_gap_ns / 1e6, 1),
                   "fresh_tstates_per_tick": round(probe.fresh_tstates / max(ticks, 1), 2),
                   "pump_cpu_pct": round(100 * (pcpu1 - pcpu0) / (wall1 - wall0), 1),
                   "pump_us_per_leg_cycle": round((pcpu1 - pcpu0) / 1000
                                                  / max(1, (cycles1 - cycles0) * legs), 2)}
            probe.fresh_tstates = 0
            if kind != "baseline":
                res["inbox_dropped"] = sum(leg.inbox.dropped for leg in wired)
                res["underrun"] = any(not leg.outbox.busy for leg in wired)
            return res
        finally:
            adm.setNoDev()
            conf_disconnect(probe.slot, probe.slot)
            pump.stop()
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
    child.keep = [keep, nulls, probe]  # type: ignore[attr-defined]
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
        result[f"pump_us_per_leg_cycle_{k}"] = r["bridge"]["pump_us_per_leg_cycle"]
        result[f"pump_cpu_pct_{k}"] = r["bridge"]["pump_cpu_pct"]
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
