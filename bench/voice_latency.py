"""Voice-to-voice latency of the conversational IVR, measured on the wire.

Prints ONE JSON line on stdout (everything else goes to stderr).

Latency of a turn = from the caller's last speech packet (RTP leaving the
caller) to the engine's first speech packet after it (RTP leaving the
engine), both stamped by the kernel on ``lo`` (raw AF_PACKET socket, root
needed; bench/_rtp_energy.py) and located by the energy of their G.711
payload (PCM16 RMS > 300). Measuring on the wire leaves out the caller's own
jitter buffer and playout, and includes everything the engine adds (its
jitter buffer, endpointing, Whisper, the dialog, Piper, the media clock).

The engine is ``callcenter serve`` (tests/support/processes.py:
EngineProcess) running the clinic flow, started through
bench/_voice_probe.py, which logs when each step of a turn happened inside
the engine (``--plain`` runs it without the probe: no breakdown). The caller
is a pjsua2 endpoint in this process (bench/_caller.py) calling as "100" (a
demo patient): it waits for the greeting and the main menu, says
"Reschedule, please." (to the ask_day state, whose prompt is short), then
asks "Could you say that again?" turn after turn (the global repeat intent:
the state and its failure count stay as they are), each time after the
engine's prompt has ended (``--quiet`` s of silence heard).

Default: ``--calls`` calls one after the other, ``--turns`` turns each;
targets p50 <= 500 ms, p95 <= 800 ms. ``--load``: the node's 4 call slots in
conversation at once, ``--load-turns`` turns each; target p95 <= 1.5 s, and
the engine's CPU (utime+stime of /proc/<pid>/stat) while all 4 talk, in
total and per conversation.

The machine is shared: a turn during which the caller or the engine stopped
sending RTP for more than 60 ms is flagged ``disturbed`` (it still counts;
``latency_ms_undisturbed`` leaves those out), and both sides' send jitter
and the load average are reported. Experiment knobs: ``--set
section.key=value`` (merged into the engine's config, e.g.
``asr.partial_window_s=10``) and ``--jb`` (the engine's jitter buffer).

``--speech real``: the caller is recorded human speech
(shared/testdata/real-speech-en, bench/_real_speech.py) and the engine runs
bench/flows/yes_no.yaml, a yes/no question asked again after every answer.
Turns alternate between an expected answer (a recorded "yes" or "no") and
an unexpected one (a recorded "stop", "go", digit or short read sentence:
a no-match reprompt), and every third turn starts 0.5 s into the engine's
reply, over the prompt (barge-in; the prompt must stop within 0.7 s). The
latency is reported over all turns and per kind (``by_kind``: expected /
unexpected, after / over the prompt). Same targets.

The first call is placed as soon as the engine serves, while it renders its
flows' fixed prompts ahead on a lowest-priority thread: ``by_call`` sets its
turns beside the later calls' and ``prompts_rendered_ahead_s`` says how long
that rendering took (the first caller must not wait on it).

``--no-tts-cache`` turns the engine's prompt cache off, so that every reply
is synthesized (as a prompt with caller-specific words would be); by default
repeated prompts are cache hits, as static prompts are in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import yaml
from _caller import BenchCall, CallerNode, Utterance, remote_rtp_port, synthesize_phrases
from _common import ROOT, json_stdout, run_measurement, setup_logging, write_result
from _real_speech import Clip, load_clips
from _rtp_energy import RtpEnergyCapture
from _voice_wire import probe_events, send_jitter, summary, voice_turn

import tests.support.processes as processes
from tests.support.processes import EngineProcess

ENGINE_RTP = 42000
CALLER_RTP = 43000
RTP_RANGE = 100
TARGET_P50_MS = 500.0
TARGET_P95_MS = 800.0
TARGET_LOAD_P95_MS = 1500.0
TOTAL_BUDGET_S = 290.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The engine-side breakdown of a turn (bench/_voice_wire.py: voice_turn), in
# the order things happen; they add up to the latency, except max_feed_gap
# (event-loop stalls), asr_compute (part of asr_final), partial_overlap (a
# partial decoding while the final ran) and speculative_back (when the final
# decoded at the caller's pause, whose text picks the end silence and becomes
# the Final, came back, relative to the utterance's end: negative = ready
# before it).
PARTS = ("rx_path", "max_feed_gap", "end_silence", "asr_final", "asr_compute",
         "partial_overlap", "speculative_back", "dialog", "tts_first", "clock_wait",
         "send_path", "leading_silence")

OVER_PROMPT_EVERY = 3  # real speech: every third turn starts over the engine's reply
OVER_PROMPT_AFTER_S = 0.5
REAL_MAX_S = 3.5  # real speech: unexpected sentences at most this long

FIRST = "Reschedule, please."
REPEATS = ["Could you say that again?", "Sorry, can you repeat that?"]

log = logging.getLogger("bench.voice_latency")


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``section.key[.key...]=YAML value`` items as a nested settings dict."""
    out: dict[str, Any] = {}
    for item in items:
        dotted, _, raw = item.partition("=")
        keys = dotted.split(".")
        if len(keys) < 2 or not raw:
            raise SystemExit(f"--set wants section.key=value, not {item!r}")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(raw)
    return out


def start_engine(tmp: Path, probe: bool, tts_cache: bool, loud_rms: float = 300.0,
                 jitter_buffer: str = "", extra: dict[str, Any] | None = None
                 ) -> EngineProcess:
    settings: dict[str, Any] = {
        "sip": {"rtp_port": ENGINE_RTP, "rtp_port_range": RTP_RANGE, "media_timeout_s": 30},
        "engine": {"flow": "clinic", "max_call_s": 280}}
    if not tts_cache:
        settings["tts"] = {"cache_memory_mb": 0, "cache_disk_mb": 0}
    for section, values in (extra or {}).items():
        settings.setdefault(section, {}).update(values)
    engine = EngineProcess(tmp / "engine", settings)
    if not probe:
        return engine.start(timeout=90)
    os.environ["VPROBE_LOUD_RMS"] = str(loud_rms)
    os.environ["VPROBE_JB"] = jitter_buffer
    plain = processes.callcenter_cmd
    processes.callcenter_cmd = lambda *a: [sys.executable, str(ROOT / "bench" / "_voice_probe.py"),
                                           *a]
    try:
        return engine.start(timeout=90)
    finally:
        processes.callcenter_cmd = plain


async def converse(call: BenchCall, pcm: dict[str, bytes], turns: int, quiet_s: float,
                   log_to: list[Utterance], ready: asyncio.Barrier | None = None,
                   deadline: float = float("inf"), offset_s: float = 0.0) -> str:
    """Greeting and menu, then `turns` turns; how the call ended."""
    if not await call.wait_prompt_end(0, quiet_s, 45):
        return "no first prompt"
    if ready is not None:
        await ready.wait()
        await asyncio.sleep(offset_s)
    for n in range(turns):
        if call.ended:
            return "engine hung up"
        if time.monotonic() > deadline:
            return "time budget"
        text = FIRST if n == 0 else REPEATS[n % len(REPEATS)]
        queued, played = call.say(pcm[text])
        log_to.append(Utterance(call.index, "turn", text, queued,
                                len(pcm[text]) / 2 / call.rate))
        await played
        mark = call.mark
        if not await call.wait_prompt_end(mark, quiet_s, 30):
            return "engine hung up" if call.ended else "no reply"
    return "done"


def real_turns(clips: list[Clip]) -> list[tuple[Clip, bool]]:
    """(clip, expected) in the order a call says them: a recorded yes/no,
    then something else, and so on."""
    expected = [c for c in clips if c.slot in ("yes", "no")]
    other = [c for c in clips if c.slot not in ("yes", "no") and c.seconds <= REAL_MAX_S]
    turns = []
    for n in range(max(len(expected), len(other))):
        turns.append((expected[n % len(expected)], True))
        turns.append((other[(7 * n) % len(other)], False))  # a mix of sets
    return turns


async def converse_real(call: BenchCall, turns: list[tuple[Clip, bool]], count: int,
                        quiet_s: float, log_to: list[Utterance],
                        ready: asyncio.Barrier | None = None, deadline: float = float("inf"),
                        offset_s: float = 0.0) -> str:
    """The first prompt, then `count` turns of recorded speech (see the module's
    docstring); how the call ended."""
    if not await call.wait_prompt_end(0, quiet_s, 45):
        return "no first prompt"
    if ready is not None:
        await ready.wait()
        await asyncio.sleep(offset_s)
    start = 11 * call.index  # calls say different clips
    for n in range(count):
        if call.ended:
            return "engine hung up"
        if time.monotonic() > deadline:
            return "time budget"
        clip, expected = turns[(start + n) % len(turns)]
        over = n % OVER_PROMPT_EVERY == OVER_PROMPT_EVERY - 1
        queued, played = call.say(clip.pcm)
        log_to.append(Utterance(call.index, "over_prompt" if over else "turn",
                                clip.transcript, queued, clip.seconds,
                                {"expected": expected, "file": clip.file}))
        await played
        mark = call.mark
        if (n + 1) % OVER_PROMPT_EVERY == OVER_PROMPT_EVERY - 1:
            if await call.wait_speech(mark, 30) is None:
                return "engine hung up" if call.ended else "no reply"
            await asyncio.sleep(OVER_PROMPT_AFTER_S)
        elif not await call.wait_prompt_end(mark, quiet_s, 30):
            return "engine hung up" if call.ended else "no reply"
    return "done"


async def drive(uri: str, pcm: dict[str, bytes], real: list[tuple[Clip, bool]] | None,
                args: argparse.Namespace, engine_pid: int, result: dict[str, Any],
                deadline: float) -> tuple[list[Utterance], dict[int, int]]:
    """Run the calls; returns the utterances and each call's engine RTP port.
    `real`: the recorded turns of ``--speech real`` (else `pcm`'s phrases)."""

    def converse_any(call: BenchCall, count: int, log_to: list[Utterance],
                     ready: asyncio.Barrier | None = None, until: float = float("inf"),
                     offset_s: float = 0.0) -> Coroutine[Any, Any, str]:
        if real is not None:
            return converse_real(call, real, count, args.quiet, log_to, ready, until, offset_s)
        return converse(call, pcm, count, args.quiet, log_to, ready, until, offset_s)

    node = CallerNode(CALLER_RTP, RTP_RANGE, max_calls=max(4, args.load_calls))
    await node.start()
    said: list[Utterance] = []
    ports: dict[int, int] = {}
    endings: list[str] = []
    try:
        if not args.load:
            for _ in range(args.calls):
                if time.monotonic() > deadline - 30:
                    endings.append("skipped: time budget")
                    continue
                call = await node.dial(uri)
                ports[call.index] = remote_rtp_port(call.call) or 0
                endings.append(await converse_any(call, args.turns, said,
                                                  until=deadline - 15))
                await call.hangup()
                await asyncio.sleep(0.5)
        else:
            slots = args.load_calls
            barrier = asyncio.Barrier(slots + 1)
            calls = []
            for _ in range(slots):
                call = await node.dial(uri)
                ports[call.index] = remote_rtp_port(call.call) or 0
                calls.append(call)
                await asyncio.sleep(args.stagger)
            # Unless --lockstep, the calls' turns are spread over a turn's length
            # (about 8 s): answers arrive at random times, as on a real line.
            spread = 0.0 if args.lockstep else 8.0 / slots
            tasks = [asyncio.create_task(converse_any(c, args.load_turns, said, barrier,
                                                      deadline - 15, i * spread))
                     for i, c in enumerate(calls)]
            async with asyncio.timeout(60):
                await barrier.wait()
            t0, cpu0 = time.monotonic(), proc_cpu_s(engine_pid)
            first_done = None
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if first_done is None:
                    first_done = (time.monotonic(), proc_cpu_s(engine_pid))
            t1, cpu1 = first_done or (time.monotonic(), proc_cpu_s(engine_pid))
            wall = t1 - t0
            pct = 100 * (cpu1 - cpu0) / wall if wall > 0 else None
            result.update(cpu_window_s=round(wall, 1), lockstep=args.lockstep,
                          engine_cpu_pct=round(pct, 1) if pct is not None else None,
                          engine_cpu_pct_per_conversation=round(pct / slots, 1)
                          if pct is not None else None,
                          bench_process_cpu_note="the caller (4 legs + capture) runs on the "
                                                 "same 2 cores")
            endings = [t.result() for t in tasks]
            for c in calls:
                await c.hangup()
    finally:
        result["call_endings"] = endings
        await node.stop()
    return said, ports


RENDERED_AHEAD = re.compile(r"fixed prompt\(s\) of flow '[^']+' rendered ahead in ([\d.]+) s")


def analyse(said: list[Utterance], ports: dict[int, int], capture: RtpEnergyCapture,
            engine_log: str) -> dict[str, Any]:
    events = probe_events(engine_log)
    turns = []
    for utt in said:
        engine_port = ports.get(utt.call)
        peers = capture.peers_of(engine_port) if engine_port else set()
        if len(peers) != 1:
            turns.append({"call": utt.call, "invalid": f"no single caller stream ({peers})"})
            continue
        caller_port = peers.pop()
        turn = voice_turn(utt, capture.stream(caller_port, engine_port),
                          capture.stream(engine_port, caller_port), events, caller_port)
        if "expected" in utt.extra:
            turn.update(expected=utt.extra["expected"], over_prompt=utt.kind == "over_prompt")
        turns.append(turn)
    good = [t for t in turns if "latency_ms" in t]
    out: dict[str, Any] = {"turns_measured": len(good),
                           "turns_invalid": len(turns) - len(good)}
    out["latency_ms"] = summary([t["latency_ms"] for t in good])
    if any("expected" in t for t in good):
        out["by_kind"] = {
            f"{'expected' if exp else 'unexpected'}_{'over' if over else 'after'}_prompt":
                summary([t["latency_ms"] for t in good
                         if t.get("expected") == exp and t.get("over_prompt") == over])
            for exp in (True, False) for over in (False, True)}
    out["first_audio_ms"] = summary([t["first_audio_ms"] for t in good])
    # The first call is placed as soon as the engine serves, while it renders
    # its flows' fixed prompts ahead (at the lowest priority): its turns next
    # to the later calls' show whether a caller waits on that rendering.
    out["by_call"] = {str(n): summary([t["latency_ms"] for t in good if t["call"] == n])
                      for n in sorted({t["call"] for t in good})}
    rendered = [float(m) for m in RENDERED_AHEAD.findall(engine_log)]
    if rendered:
        out["prompts_rendered_ahead_s"] = max(rendered)
    # Turns during which a sender (caller or engine) stalled > 60 ms: the shared
    # machine was busy with something else; shown apart, not dropped.
    calm = [t for t in good if not t.get("disturbed")]
    out["turns_disturbed"] = len(good) - len(calm)
    out["latency_ms_undisturbed"] = summary([t["latency_ms"] for t in calm])
    breakdown: dict[str, Any] = {}
    for key in PARTS:
        vals = [t["parts"][key] for t in good if t.get("parts", {}).get(key) is not None]
        if vals:
            s = summary(vals)
            breakdown[key] = {"p50": s["p50"], "p95": s["p95"], "max": s["max"]}
    if breakdown:
        out["breakdown_ms"] = breakdown
        cfg = [t["parts"].get("end_silence_cfg") for t in good if "parts" in t]
        out["end_silence_cfg_ms"] = {str(v): cfg.count(v) for v in sorted(set(cfg), key=str)}
    invalid = [t["invalid"] for t in turns if "invalid" in t]
    if invalid:
        out["invalid_reasons"] = {r: invalid.count(r) for r in set(invalid)}
    engine_ports = {p for p in ports.values() if p}
    callers = [capture.stream(c, e) for e in engine_ports for c in capture.peers_of(e)]
    engines = [capture.stream(e, c) for e in engine_ports for c in capture.peers_of(e)]
    # Both sides' sending regularity: the caller is this process (its bursts
    # grow the engine's jitter buffer, part of rx_path), the engine its clock.
    out["caller_send_jitter"] = send_jitter(callers)
    out["engine_send_jitter"] = send_jitter(engines)
    out["turns"] = [_compact(t) for t in turns]
    return out


def _compact(turn: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in turn.items() if k != "parts"}
    parts = turn.get("parts") or {}
    for k in (*PARTS, "heard"):
        if k in parts:
            out[k] = parts[k]
    return out


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    started = time.monotonic()
    deadline = started + args.budget
    real = real_turns(load_clips()) if args.speech == "real" else None
    pcm = {} if real else synthesize_phrases([FIRST, *REPEATS])
    extra = parse_sets(args.set)
    if real:
        extra.setdefault("engine", {}).update(flow="yes_no",
                                              flows_dir=str(ROOT / "bench" / "flows"))
    capture: RtpEnergyCapture | None = None
    engine: EngineProcess | None = None
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as d:
        try:
            capture = RtpEnergyCapture([(ENGINE_RTP, ENGINE_RTP + RTP_RANGE),
                                        (CALLER_RTP, CALLER_RTP + RTP_RANGE)])
            engine = start_engine(Path(d), not args.plain, not args.no_tts_cache,
                                  jitter_buffer=args.jb, extra=extra)
            assert engine.proc is not None
            result["engine_start_s"] = round(time.monotonic() - started, 1)
            said, ports = asyncio.run(drive(engine.uri("100"), pcm, real, args,
                                            engine.proc.pid, result, deadline))
            time.sleep(0.3)
            result.update(analyse(said, ports, capture, engine.log))
        finally:
            if engine is not None:
                code = engine.stop(timeout=15)
                result["engine_exit"] = code
                if code not in (0, None):
                    log.warning("engine log tail:\n%s", engine.log[-3000:])
                if args.keep_log:
                    Path(args.keep_log).write_text(engine.log)
            if capture is not None:
                capture.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speech", choices=("synthetic", "real"), default="synthetic",
                    help="what the caller says (see the module's docstring)")
    ap.add_argument("--calls", type=int, default=2, help="calls, one after the other")
    ap.add_argument("--turns", type=int, default=11, help="caller turns per call")
    ap.add_argument("--load", action="store_true", help="all call slots talking at once")
    ap.add_argument("--load-calls", type=int, default=4)
    ap.add_argument("--load-turns", type=int, default=8)
    ap.add_argument("--stagger", type=float, default=0.7, help="s between the load calls")
    ap.add_argument("--lockstep", action="store_true",
                    help="(load) all calls answer at the same moment: the worst case")
    ap.add_argument("--quiet", type=float, default=0.8,
                    help="silence (s) after which the caller takes a prompt as ended")
    ap.add_argument("--no-tts-cache", action="store_true", help="engine prompt cache off")
    ap.add_argument("--plain", action="store_true", help="engine without the timing probe")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="(experiment) an engine setting, e.g. asr.partial_window_s=10")
    ap.add_argument("--jb", default="", metavar="INIT,MINPRE,MAXPRE,MAX",
                    help="(experiment) the engine's jitter buffer in ms, set by the probe")
    ap.add_argument("--budget", type=float, default=TOTAL_BUDGET_S, help="s, whole run")
    ap.add_argument("--keep-log", help="write the engine's log to this file")
    args = ap.parse_args()
    out = json_stdout()
    setup_logging()
    started = time.monotonic()
    result: dict[str, Any] = {"bench": "voice_latency", "mode": "load" if args.load else "serial",
                              "speech": args.speech, "tts_cache": not args.no_tts_cache}
    if args.jb:
        result["jitter_buffer_ms"] = args.jb
    if args.set:
        result["engine_settings"] = args.set
    result["loadavg_1m_start"] = os.getloadavg()[0]
    error = run_measurement(lambda: run(args, result), log)
    lat = result.get("latency_ms") or {}
    if args.load:
        result["target_p95_ms"] = TARGET_LOAD_P95_MS
        ok = (error is None and lat.get("n", 0) >= 20 and lat.get("p95") is not None
              and lat["p95"] <= TARGET_LOAD_P95_MS)
    else:
        result.update(target_p50_ms=TARGET_P50_MS, target_p95_ms=TARGET_P95_MS)
        ok = (error is None and lat.get("n", 0) >= 20 and lat["p50"] <= TARGET_P50_MS
              and lat["p95"] <= TARGET_P95_MS)
    result["pass"] = bool(ok)
    if error:
        result["error"] = error
    result["loadavg_1m_end"] = os.getloadavg()[0]
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    head = ["bench", "mode", "speech", "turns_measured", "latency_ms", "target_p50_ms",
            "target_p95_ms", "engine_cpu_pct", "engine_cpu_pct_per_conversation", "pass",
            "by_kind", "breakdown_ms"]
    write_result(out, result, head)
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
