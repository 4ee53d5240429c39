"""Media loop health of one node at its call limit.

Prints ONE JSON line on stdout (everything else goes to stderr).

Starts ``callcenter serve`` (tests/support/processes.py: EngineProcess) with
its RTP ports pinned to 42000-42099, fills it to ``status()["capacity"]``
with test callers (``callcenter dial URI --wav tone.wav --duration 20``)
that stream a tone while the engine plays its greeting, then silence
(silence suppression is off, so RTP keeps flowing) and records both
channels. Over a steady window it captures, on the loopback interface with a
raw AF_PACKET socket (root needed), every UDP packet whose source port is one
of the engine's RTP sockets (the even ports in the range that
/proc/<engine>/fd shows the engine owns), timestamped by the kernel, and
reports the gaps between consecutive packets of each stream.

The engine's RTP is sent from pjmedia's clock thread, the thread that also
runs the Python port callbacks, so a gap here means the media loop stalled.

CPU: the engine's utime+stime from /proc/<pid>/stat at the window's start
and end, as percent of one core, in total and per call; the callers' (they
run on the same machine) is reported separately, as are the busiest engine
threads, the whole machine's busy share and the load average (other work on
the machine shows up there).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, run_measurement, setup_logging, write_result
from _proc import CLK_TCK, proc_cpu_ticks, system_cpu, thread_cpu, udp_ports_of
from _rtp_capture import RtpCapture, analyse

import tests.support.processes as processes
from tests.support.audio import tone, write_wav
from tests.support.processes import EngineProcess, dial_result, start_dial

RTP_BASE = 42000
RTP_RANGE = 100
TARGET_GAP_MS = 40.0
TOTAL_BUDGET_S = 85.0

log = logging.getLogger("bench.media_loop_health")


def _gc_report(engine_log: str, t0_ns: int, worst: list[tuple[float, float, int]]
               ) -> dict[str, Any]:
    """Collections the engine logged (bench/_engine_probe.py) during the window,
    and which of the worst gaps overlap one."""
    events = []  # (gen, ms, start s, end s) relative to the window start
    objects = -1
    for line in engine_log.splitlines():
        if "gcprobe " not in line:
            continue
        kv = dict(f.split("=", 1) for f in line.split("gcprobe ", 1)[1].split())
        end = float(kv["end"]) - t0_ns / 1e9
        ms = float(kv["ms"])
        events.append((int(kv["gen"]), ms, end - ms / 1000, end))
        objects = max(objects, int(kv.get("objects", -1)))
    full_total = sum(1 for e in events if e[0] == 2)
    events = [e for e in events if -1 <= e[3] <= 60]
    overlapping = 0
    for gap_ms, at_s, _port in worst:
        if gap_ms > TARGET_GAP_MS and any(
                e[2] <= at_s and e[3] >= at_s - gap_ms / 1000 for e in events):
            overlapping += 1
    return {"gc_events": [[g, round(ms, 1), round(end, 3)] for g, ms, _s, end in events][:20],
            "gc_full_max_ms": max((e[1] for e in events if e[0] == 2), default=None),
            "gaps_over_40ms_during_gc": overlapping,
            "gc_full_count_engine_lifetime": full_total, "gc_tracked_objects": objects}


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    started = time.monotonic()
    deadline = started + TOTAL_BUDGET_S
    probe = bool(args.gc_probe or args.force_gc or args.freeze or args.burn
                 or args.switch_interval)
    if probe:
        result["diagnosis"] = {"force_gc_s": args.force_gc, "freeze": args.freeze,
                               "burn": args.burn, "switch_interval_s": args.switch_interval}
    callers: list[subprocess.Popen[str]] = []
    engine: EngineProcess | None = None
    capture: RtpCapture | None = None
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as d:
        tmp = Path(d)
        wav = write_wav(tmp / "tone.wav", tone(440.0, args.duration))
        try:
            capture = RtpCapture(RTP_BASE, RTP_BASE + RTP_RANGE)
            engine = EngineProcess(tmp / "engine", {
                "sip": {"rtp_port": RTP_BASE, "rtp_port_range": RTP_RANGE,
                        "media_timeout_s": 15},
                "engine": {"max_call_s": 60}})
            if probe:
                # Same engine, started through bench/_engine_probe.py (logs GC
                # pauses; optional diagnostic load).
                os.environ["GC_PROBE_FORCE_S"] = str(args.force_gc)
                os.environ["GC_PROBE_FREEZE"] = "1" if args.freeze else ""
                os.environ["PROBE_BURN"] = "1" if args.burn else ""
                os.environ["PROBE_SWITCH_S"] = str(args.switch_interval or "")
                plain = processes.callcenter_cmd
                processes.callcenter_cmd = lambda *a: [
                    sys.executable, str(ROOT / "bench" / "_engine_probe.py"), *a]
                try:
                    engine.start(timeout=30)
                finally:
                    processes.callcenter_cmd = plain
            else:
                engine.start(timeout=30)
            assert engine.proc is not None
            pid = engine.proc.pid
            status = engine.status()
            capacity = int(status["capacity"])
            calls = args.calls or capacity
            result.update(calls=calls, capacity=capacity)
            log.info("engine pid %d on port %d, capacity %d; starting %d callers",
                     pid, engine.port, capacity, calls)

            uri = engine.uri()
            for _ in range(calls):
                callers.append(start_dial(uri, "--wav", str(wav), "--duration",
                                          str(args.duration)))
            # All calls up: the engine says so and RTP flows from `calls` of its ports.
            setup_deadline = time.monotonic() + 20
            engine_rtp: set[int] = set()
            while time.monotonic() < setup_deadline:
                owned = udp_ports_of(pid)
                engine_rtp = {p for p in capture.seen_ports
                              if p in owned and p % 2 == 0}
                if len(engine_rtp) >= calls and engine.status()["active_calls"] >= calls:
                    break
                if any(c.poll() is not None for c in callers):
                    raise RuntimeError("a caller ended during setup")
                time.sleep(0.3)
            else:
                raise RuntimeError(f"calls not up in time: engine RTP ports {engine_rtp}")
            result["setup_s"] = round(time.monotonic() - started, 1)
            time.sleep(args.settle)

            # --- the window ---------------------------------------------------
            if time.monotonic() + args.window + 15 > deadline:
                raise RuntimeError("not enough time budget left for the window")
            eng0 = proc_cpu_ticks(pid)
            thr0 = thread_cpu(pid)
            call0 = {c.pid: proc_cpu_ticks(c.pid) for c in callers}
            sys0 = system_cpu()
            self0 = time.process_time()
            capture.streams.clear()
            t0_ns, w0 = time.time_ns(), time.monotonic()
            capture.recording = True
            time.sleep(args.window)
            capture.recording = False
            w1 = time.monotonic()
            eng1 = proc_cpu_ticks(pid)
            thr1 = thread_cpu(pid)
            call1 = {c.pid: proc_cpu_ticks(c.pid) for c in callers if c.poll() is None}
            sys1 = system_cpu()
            self1 = time.process_time()
            wall = w1 - w0

            owned = udp_ports_of(pid)
            streams = {p: v for p, v in capture.streams.items()
                       if p in owned and p % 2 == 0}
            foreign = sorted(set(capture.streams) - set(streams))
            stats = analyse(streams, t0_ns)
            engine_pct = 100 * (eng1 - eng0) / CLK_TCK / wall
            callers_pct = 100 * sum(call1[p] - call0[p] for p in call1) / CLK_TCK / wall
            threads = sorted(((t1 - thr0.get(tid, (n, 0))[1], tid, n)
                              for tid, (n, t1) in thr1.items()), reverse=True)
            result.update(
                window_s=round(wall, 1),
                streams=len(streams),
                packets_per_stream=round(sum(len(v) for v in streams.values())
                                         / max(1, len(streams)), 1),
                max_gap_ms=stats["max_gap_ms"], p99_gap_ms=stats["p99_gap_ms"],
                p50_gap_ms=stats["p50_gap_ms"],
                gaps_over_40ms=stats["gaps_over_40ms"],
                gaps_over_30ms=stats["gaps_over_30ms"],
                rtp_seq_lost=stats["rtp_seq_lost"],
                engine_cpu_pct=round(engine_pct, 1),
                cpu_pct_per_call=round(engine_pct / calls, 2),
                callers_cpu_pct=round(callers_pct, 1),
                engine_threads_cpu_pct=[[n, tid, round(100 * t / CLK_TCK / wall, 1)]
                                        for t, tid, n in threads[:5]],
                machine_busy_pct=round(100 * (sys1[0] - sys0[0])
                                       / max(1, sys1[1] - sys0[1]), 1),
                bench_cpu_pct=round(100 * (self1 - self0) / wall, 1),
                loadavg_1m=os.getloadavg()[0],
                worst_gaps=stats["worst_gaps"],
                per_stream=stats["per_stream"],
            )
            if foreign:
                result["ignored_ports_in_range"] = foreign
            if probe:
                result.update(_gc_report(engine.log, t0_ns, stats["worst_gaps"]))
            if len(streams) < calls:
                raise RuntimeError(f"only {len(streams)} engine RTP streams for {calls} calls")

            # --- the calls end on their own (--duration) ------------------------
            outcomes = []
            for c in callers:
                left = max(1.0, deadline - time.monotonic() - 10)
                try:
                    outcomes.append(dial_result(c, timeout=left).get("status"))
                except Exception as exc:  # report it, still print the JSON line
                    outcomes.append(f"error: {exc}"[:200])
            result["caller_outcomes"] = outcomes
            if engine.proc.poll() is not None:
                raise RuntimeError(f"engine exited with {engine.proc.returncode}")
        finally:
            for c in callers:
                if c.poll() is None:
                    c.send_signal(signal.SIGTERM)
            for c in callers:
                try:
                    c.wait(5)
                except subprocess.TimeoutExpired:
                    c.kill()
                    c.wait(5)
            if engine is not None:
                code = engine.stop(timeout=15)
                result["engine_exit"] = code
                if code not in (0, None):
                    log.warning("engine log tail:\n%s", engine.log[-3000:])
            if capture is not None:
                capture.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=0, help="default: the node's capacity")
    ap.add_argument("--window", type=float, default=10.0, help="capture window, s")
    ap.add_argument("--settle", type=float, default=1.0, help="wait after setup, s")
    ap.add_argument("--duration", type=float, default=20.0, help="each caller's call, s")
    ap.add_argument("--gc-probe", action="store_true",
                    help="run the engine through bench/_engine_probe.py and report its GC pauses")
    ap.add_argument("--force-gc", type=float, default=0.0, metavar="S",
                    help="(diagnosis) a full gc.collect() in the engine every S seconds")
    ap.add_argument("--freeze", action="store_true",
                    help="(diagnosis, with --force-gc) gc.freeze() in the engine once started")
    ap.add_argument("--burn", action="store_true",
                    help="(diagnosis) a CPU-bound pure-Python thread in the engine")
    ap.add_argument("--switch-interval", type=float, default=0.0, metavar="S",
                    help="(diagnosis) sys.setswitchinterval(S) in the engine")
    args = ap.parse_args()
    setup_logging()
    started = time.monotonic()
    result: dict[str, Any] = {"bench": "media_loop_health"}
    error = run_measurement(lambda: run(args, result), log)
    result["target_gap_ms"] = TARGET_GAP_MS
    ok = (error is None and result.get("max_gap_ms") is not None
          and result["max_gap_ms"] <= TARGET_GAP_MS
          and result.get("streams", 0) >= result.get("calls", 1)
          and all(o == "answered" for o in result.get("caller_outcomes", ["?"])))
    result["pass"] = bool(ok)
    if error:
        result["error"] = error
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    # Put the headline fields first; the details after.
    head = ["bench", "calls", "window_s", "max_gap_ms", "p99_gap_ms", "engine_cpu_pct",
            "cpu_pct_per_call", "callers_cpu_pct", "target_gap_ms", "pass"]
    write_result(sys.stdout, result, head)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
