"""A dense node: hundreds of concurrent recorded calls on one engine process.

Prints ONE JSON line on stdout (everything else goes to stderr). Root is
needed (tcpdump captures the engine's RTP on ``lo``), and so is
a pjsua2 build whose probed call limit is at least ``--calls`` (``make
dense``); with the stock 4-call wheel the benchmark says so and fails.

``callcenter serve`` runs with no dialog flow and recording on, RTP on
42000+. The engine's outgoing RTP is captured by tcpdump (Debian
``tcpdump``; BPF-filtered in the kernel, nanosecond stamps). sipp (Debian
``sip-tester``) places the calls: each streams a looping
μ-law tone to the engine (``rtp_stream``) for ``--hold`` seconds, then hangs
up. Three parts:

- ``greet``: greet-and-record mode (the engine's chime through its Python
  port, then silence: RTP both ways all along, both channels recorded);
- ``hold``: the same with ``engine.hold_audio``: after the chime every
  caller hears a looping WAV mixed in the bridge;
- ``queue``: every caller is sent by a dialog flow to a human queue whose
  one agent (an agent session, logged in, not ready) never takes a call:
  callers wait on the queue's looping hold WAV with their position and
  expected wait spoken every ``--announce`` seconds (Piper, in the engine);
  the window spans two announcements per caller;
- ``setup``: calls per second the node accepts with no failure, short calls
  at rising rates;
- ``knee`` (``--knee``): the largest number of concurrent recorded calls
  whose outgoing RTP has no gap over 40 ms, in rising steps.

For ``greet`` and ``hold``, over a steady window with every call up: the
largest gap in the engine's outgoing RTP and lost packets (RTP sequence),
the engine's CPU (utime+stime from /proc, percent of one core, in total and
per call) and RSS; after the calls: answered/completed counts from sipp,
and every CDR's recording checked (file present, SHA-256 as stored, length
equal to the call's connected time within 0.5 s).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _common import json_stdout, run_measurement, setup_logging, write_result
from _proc import CLK_TCK, proc_cpu_ticks, rss_mb, system_cpu, udp_ports_of
from _rtp_capture import TcpdumpCapture, analyse

from tests.support.acd import (
    acd_settings,
    agent_state,
    agents_yaml,
    desk_agent,
    desk_flow,
    desk_queues,
    wait_for,
)
from tests.support.audio import tone, write_wav
from tests.support.processes import EngineProcess, start_dial
from tests.support.sipp import SIPP, free_port

RTP_BASE = 42000
RTP_RANGE = 4000
TARGET_GAP_MS = 40.0
TARGET_CPU_PCT = 100.0
TARGET_SETUP_CPS = 50.0
log = logging.getLogger("bench.dense_node")

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="dense node caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><exec rtp_stream="{stream},-1,0"/></action></nop>
  <pause milliseconds="{hold_ms}"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def ulaw(samples: np.ndarray) -> bytes:
    """G.711 μ-law bytes of PCM16 samples."""
    s = samples.astype(np.int32)
    sign = (s < 0).astype(np.int32)
    mag = np.minimum(np.abs(s), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


class Sipp:
    """A sipp UAC run in the background."""

    def __init__(self, work: Path, port: int, *, calls: int, limit: int, rate: float,
                 hold_s: float, timeout_s: float) -> None:
        scenario = work / f"uac-{calls}-{rate}.xml"
        scenario.write_text(UAC.format(stream=work / "caller.ulaw",
                                       hold_ms=int(hold_s * 1000)))
        rtp_lo = free_port(4 * limit + 4)  # rtp_stream binds a port pair per call from -mp
        cmd = [str(SIPP), f"127.0.0.1:{port}", "-s", "100", "-t", "u1", "-i", "127.0.0.1",
               "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(rtp_lo), "-m", str(calls),
               "-l", str(limit), "-r", str(rate), "-rp", "1000", "-sf", str(scenario),
               "-timeout", f"{int(timeout_s)}s", "-timeout_error", "-nostdin",
               "-trace_stat", "-stf", str(work / f"stat-{calls}-{rate}.csv")]
        self.work = work
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def wait(self) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=self.timeout_s + 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        def counter(name: str) -> int:
            found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", out)
            return int(found[-1]) if found else -1

        if self.proc.returncode not in (0, 1):
            log.warning("sipp exit %s: %s", self.proc.returncode, err[-2000:])
        return {"successful": counter("Successful call"), "failed": counter("Failed call"),
                "exit": self.proc.returncode}


def queue_settings(work: Path, hold_wav: Path, announce_s: int, calls: int) -> dict[str, Any]:
    """Engine settings for the ``queue`` part: a flow into the queue ``desk``."""
    return acd_settings(
        work / "queue-config", flow=desk_flow(),
        agents=agents_yaml({"1001": desk_agent("Bench Agent", "4711", skills={"desk": 1})},
                           session={}),
        queues=desk_queues(max_wait_s=3600, max_length=calls + 10, hold_audio=str(hold_wav),
                           announce_every_s=announce_s))


def log_in_agent(engine: EngineProcess, work: Path, stay_s: float) -> subprocess.Popen[str]:
    """An agent session (``callcenter dial``) logged in as 1001, not ready, for `stay_s`."""
    script = work / "agent.yaml"
    script.write_text(f"- wait: 1.0\n- dtmf: '1001#4711#'\n- wait: {stay_s}\n")
    agent = start_dial(engine.uri("200"), "--from", "1001", "--script", str(script))
    wait_for("the bench's agent logged in",
             lambda: agent_state(engine, "1001") == "not_ready", 30)
    return agent


def start_engine(work: Path, name: str, hold_wav: Path | None, max_calls: int,
                 extra: dict[str, Any] | None = None) -> EngineProcess:
    settings: dict[str, Any] = {
        "sip": {"rtp_port": RTP_BASE, "rtp_port_range": RTP_RANGE, "max_calls": max_calls,
                "media_timeout_s": 30},
        "engine": {"flow": None, "max_call_s": 600,
                   "hold_audio": str(hold_wav) if hold_wav else None}}
    for section, values in (extra or {}).items():
        settings.setdefault(section, {}).update(values)
    return EngineProcess(work / name, settings).start(timeout=120)


def probed_limit(engine: EngineProcess) -> int:
    match = re.search(r"(\d+) calls per process", engine.log)
    return int(match.group(1)) if match else 0


def check_recordings(engine: EngineProcess, expected: int, timeout: float = 60
                     ) -> dict[str, Any]:
    """Every CDR's recording sealed, hashed as stored, as long as the call."""
    store = engine.store()
    try:
        deadline = time.monotonic() + timeout
        while True:
            calls = [c for c in store.recent_calls(limit=expected * 2)
                     if c.answered_at is not None]
            sealed = [c for c in calls if c.recording_sha256]
            if len(sealed) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        store.close()
    bad_hash = bad_length = silent_caller = 0
    for cdr in sealed:
        path = Path(cdr.recording_path)
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != cdr.recording_sha256:
            bad_hash += 1
            continue
        with wave.open(str(path), "rb") as wav:
            rate, channels = wav.getframerate(), wav.getnchannels()
            seconds = wav.getnframes() / rate
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        connected = (cdr.ended_at - cdr.answered_at).total_seconds()
        if channels != 2 or abs(seconds - connected) > 0.5:
            bad_length += 1
            continue
        middle = samples.reshape(-1, 2)[len(samples) // 4: len(samples) // 2, 0]
        if float(np.sqrt(np.mean(middle.astype(float) ** 2))) < 500:
            silent_caller += 1  # the caller's RTP never reached the recording
    return {"answered_cdrs": len(calls), "recordings_sealed": len(sealed),
            "recordings_bad_hash": bad_hash, "recordings_bad_length": bad_length,
            "recordings_silent_caller": silent_caller,
            "recordings_complete": len(sealed) - bad_hash - bad_length - silent_caller}


def steady_run(work: Path, name: str, calls: int, hold_s: float, hold_wav: Path | None,
               window_s: float, ramp_cps: float, queue: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """`calls` concurrent recorded calls; measure over a window with all up."""
    engine = start_engine(work, name, hold_wav, calls + 16, queue)
    agent = log_in_agent(engine, work, hold_s + window_s + 120) if queue else None
    try:
        limit = probed_limit(engine)
        if limit < calls:
            raise RuntimeError(f"this pjsua2 build holds {limit} calls; {calls} wanted "
                               "(build the dense one: make dense)")
        pid = engine.proc.pid if engine.proc else 0
        ramp_s = calls / ramp_cps
        sipp = Sipp(work, engine.port, calls=calls, limit=calls, rate=ramp_cps,
                    hold_s=hold_s, timeout_s=hold_s + ramp_s + 60)
        time.sleep(ramp_s + 3.0)  # every call up, greetings over
        rss_before = rss_mb(pid)
        sipp_pid = sipp.proc.pid
        cpu0, t0 = proc_cpu_ticks(pid), time.monotonic()
        sipp0, sys0 = proc_cpu_ticks(sipp_pid), system_cpu()
        capture = TcpdumpCapture(RTP_BASE, RTP_BASE + RTP_RANGE, str(work / f"{name}.pcap"))
        t0_ns = time.time_ns()
        window_start = datetime.now(UTC)
        time.sleep(window_s)
        capture.stop()
        cpu1, t1 = proc_cpu_ticks(pid), time.monotonic()
        waited = queue_figures(engine, window_start) if queue else {}
        sipp1, sys1 = proc_cpu_ticks(sipp_pid), system_cpu()
        rss = rss_mb(pid)
        # RTP only (RTCP, on odd ports, comes every 5 s), and only from this
        # engine's sockets: other processes may use ports in the range.
        owned = udp_ports_of(pid)
        rtp = {port: pkts for port, pkts in capture.streams.items()
               if port % 2 == 0 and port in owned}
        gaps = analyse(rtp, t0_ns)
        streams_seen = len(rtp)
        sip_result = sipp.wait()
        cpu_pct = 100.0 * (cpu1 - cpu0) / CLK_TCK / (t1 - t0)
        sipp_pct = 100.0 * (sipp1 - sipp0) / CLK_TCK / (t1 - t0)
        busy_pct = 100.0 * (sys1[0] - sys0[0]) / max(1, sys1[1] - sys0[1])
        rec = check_recordings(engine, calls)
        scheduled = re.search(r"media threads scheduled as (.+)", engine.log)
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        engine.stop()
    gaps.pop("per_stream", None)
    return {"calls": calls, "answered": sip_result["successful"],
            "failed": sip_result["failed"], "streams_in_window": streams_seen,
            "window_s": window_s, "max_gap_ms": gaps["max_gap_ms"],
            "p99_gap_ms": gaps["p99_gap_ms"], "gaps_over_40ms": gaps["gaps_over_40ms"],
            "rtp_lost": gaps["rtp_seq_lost"], "worst_gaps": gaps["worst_gaps"][:5],
            "capture_dropped": capture.dropped,
            "media_threads": scheduled.group(1).strip() if scheduled else "default",
            "cpu_pct": round(cpu_pct, 1), "cpu_pct_per_call": round(cpu_pct / calls, 3),
            "rss_mb": rss, "rss_mb_before_window": rss_before,
            # The callers share the machine: sipp's CPU, and the machine's
            # busy share of both cores (other work running shows up there).
            "sipp_cpu_pct": round(sipp_pct, 1), "machine_busy_pct": round(busy_pct, 1),
            "loadavg_1m": round(os.getloadavg()[0], 2), **rec, **waited}


def queue_figures(engine: EngineProcess, since: datetime) -> dict[str, Any]:
    """Callers waiting in the queue now, and position announcements spoken since `since`."""
    from sqlalchemy import text

    store = engine.store()
    try:
        waiting = len(store.acd.open_entries())
        with store.engine.connect() as db:
            spoken = db.execute(text(
                "SELECT count(*) FROM turns WHERE state = 'queue:desk' AND speaker = 'engine' "
                "AND started_at >= :since"), {"since": since.replace(tzinfo=None)}).scalar()
    finally:
        store.close()
    return {"waiting_in_queue": waiting, "announcements_in_window": spoken}


def setup_rate(work: Path, rates: list[float], calls_per_step: int) -> dict[str, Any]:
    """The highest tried rate of new calls per second with no failed call."""
    engine = start_engine(work, "setup", None, 1024)
    steps = []
    best = 0.0
    try:
        for rate in rates:
            hold_s = 1.0
            sipp = Sipp(work, engine.port, calls=calls_per_step, limit=calls_per_step,
                        rate=rate, hold_s=hold_s, timeout_s=calls_per_step / rate + 40)
            result = sipp.wait()
            ok = result["failed"] == 0 and result["successful"] == calls_per_step
            steps.append({"cps": rate, **result})
            if not ok:
                break
            best = rate
            time.sleep(3)
    finally:
        engine.stop()
    return {"setup_cps_max_ok": best, "steps": steps}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--hold", type=float, default=40.0, help="seconds each call lasts")
    ap.add_argument("--window", type=float, default=15.0, help="measured seconds")
    ap.add_argument("--ramp-cps", type=float, default=40.0)
    ap.add_argument("--parts", default="greet,hold,queue,setup")
    ap.add_argument("--announce", type=int, default=20,
                    help="queue part: seconds between position announcements")
    ap.add_argument("--setup-rates", default="50,75,100")
    ap.add_argument("--knee", default="", help="e.g. 200,300,400: concurrent calls per step")
    args = ap.parse_args()
    setup_logging()
    out = json_stdout()
    started = time.monotonic()
    parts = args.parts.split(",") + (["knee"] if args.knee else [])
    result: dict[str, Any] = {"bench": "dense_node", "calls": args.calls, "parts": parts,
                              "target_gap_ms": TARGET_GAP_MS,
                              "target_cpu_pct": TARGET_CPU_PCT,
                              "target_setup_cps": TARGET_SETUP_CPS}

    def body() -> None:
        if os.geteuid() != 0:
            raise RuntimeError("run as root: the engine's RTP is captured on lo")
        if SIPP is None:
            raise RuntimeError("sipp is not installed (Debian package sip-tester)")
        with tempfile.TemporaryDirectory(prefix="bench-dense-") as d:
            work = Path(d)
            caller = tone(440.0, 1.0) // 2 + tone(1250.0, 1.0) // 2
            (work / "caller.ulaw").write_bytes(ulaw(caller))
            hold_wav = write_wav(work / "hold.wav", tone(523.0, 3.0, 16000), rate=16000)
            if "greet" in parts:
                result["greet"] = steady_run(work, "greet", args.calls, args.hold, None,
                                             args.window, args.ramp_cps)
            if "hold" in parts:
                result["hold"] = steady_run(work, "hold", args.calls, args.hold, hold_wav,
                                            args.window, args.ramp_cps)
            if "queue" in parts:
                # The window spans two announcements per caller: the first
                # renders each position's words, the second finds them cached.
                window = max(args.window, 2 * args.announce + 5)
                result["queue"] = steady_run(
                    work, "queue", args.calls, max(args.hold, window + 20), None,
                    window, args.ramp_cps,
                    queue_settings(work, hold_wav, args.announce, args.calls))
            if "setup" in parts:
                result["setup"] = setup_rate(
                    work, [float(r) for r in args.setup_rates.split(",")], 300)
            if "knee" in parts:
                knee = 0
                steps = []
                for n in (int(x) for x in args.knee.split(",")):
                    hold_s = n / args.ramp_cps + 25.0  # every call still up in the window
                    step = steady_run(work, f"knee{n}", n, hold_s, None, 10.0, args.ramp_cps)
                    steps.append({k: step[k] for k in ("calls", "answered", "max_gap_ms",
                                                        "p99_gap_ms", "cpu_pct", "rtp_lost",
                                                        "machine_busy_pct")})
                    if step["answered"] < n or (step["max_gap_ms"] or 1e9) > TARGET_GAP_MS:
                        break
                    knee = n
                result["knee"] = {"calls_without_gap_over_40ms": knee, "steps": steps}

    error = run_measurement(body, log)
    ok = error is None
    for part in ("greet", "hold", "queue"):
        r = result.get(part)
        if r is not None:
            ok = ok and (r["answered"] == args.calls and r["failed"] == 0
                         and (r["max_gap_ms"] or 1e9) <= TARGET_GAP_MS and r["rtp_lost"] == 0
                         # queue: CPU per waiting caller is a figure, not a target
                         and (part == "queue" or r["cpu_pct"] <= TARGET_CPU_PCT)
                         and r["recordings_complete"] == args.calls
                         and r.get("waiting_in_queue", args.calls) == args.calls)
    if "setup" in result:
        ok = ok and result["setup"]["setup_cps_max_ok"] >= TARGET_SETUP_CPS
    result["pass"] = ok
    if error:
        result["error"] = error
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    write_result(out, result, ["bench", "pass", "calls"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
