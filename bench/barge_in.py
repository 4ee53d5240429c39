"""Barge-in reaction of the conversational IVR, measured on the wire.

Prints ONE JSON line on stdout (everything else goes to stderr).

Reaction of a trial = from the onset of the caller's speech (the first RTP
packet leaving the caller whose G.711 payload has PCM16 RMS > ``--rms``,
default 100, about -50 dBFS: the first audible sound) to the engine's last
speech packet before it falls silent (the last packet leaving the engine
above the same level that is followed by at least 0.6 s without one), both
stamped by the kernel on ``lo`` (raw AF_PACKET socket, root needed;
bench/_rtp_energy.py). The result at the other usual level (300) is
reported too: a higher level finds the onset later and flatters the engine.

The engine is ``callcenter serve`` with the clinic flow (EngineProcess),
started through bench/_voice_probe.py for an engine-side breakdown
(``--plain``: without). The caller (a pjsua2 endpoint in this process,
bench/_caller.py, calling as demo patient "100") waits for the greeting
(``barge_in: false``) and the main menu to end, asks "Could you say that
again?", and from then on interrupts each replay of the main menu (a long
prompt with ``barge_in: true``) with the same question, ``--min-offset`` to
``--max-offset`` seconds (random, seeded) after the prompt's first sound:
the engine should stop, hear the repeat intent and start the menu again.

A trial is counted only if the engine was speaking when the caller began
and the prompt playing allowed barge-in. ``in_pause`` marks trials where
the engine had gone quiet in a pause of the prompt before its cut, so that
the wire shows less than its real reaction; the headline excludes them
(``all_valid_ms`` includes them). Trials during which either side stopped
sending RTP for more than 60 ms (the shared machine was busy) are flagged
``disturbed``; they count, and ``reaction_ms_undisturbed`` leaves them out.
``--jb INIT,MINPRE,MAXPRE,MAX`` (ms) sets the engine's jitter buffer through
the probe, an experiment. Target: p95 <= 200 ms over >= 10 trials.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _caller import BenchCall, CallerNode, Utterance, remote_rtp_port, synthesize_phrases
from _common import json_stdout, run_measurement, setup_logging, write_result
from _rtp_energy import RtpEnergyCapture
from _voice_wire import LOUD_RMS, barge_trial, probe_events, send_jitter, summary
from voice_latency import CALLER_RTP, ENGINE_RTP, RTP_RANGE, start_engine

TARGET_MS = 200.0
TOTAL_BUDGET_S = 240.0
PHRASE = "Could you say that again?"

log = logging.getLogger("bench.barge_in")


async def interrupt(call: BenchCall, pcm: bytes, trials: int, rng: random.Random,
                    args: argparse.Namespace, log_to: list[Utterance], deadline: float) -> str:
    """Interrupt the menu prompt up to `trials` times; how the call ended."""
    if not await call.wait_prompt_end(0, args.quiet, 45):
        return "no first prompt"
    queued, played = call.say(pcm)
    log_to.append(Utterance(call.index, "setup", PHRASE, queued, len(pcm) / 2 / call.rate))
    await played
    done = 0
    while done < trials:
        if call.ended:
            return "engine hung up"
        if time.monotonic() > deadline:
            return "time budget"
        # The reply to what was just said: wait for its first sound.
        if not await call.wait_quiet(0.3, 20):
            return "engine hung up" if call.ended else "engine never quiet"
        mark = call.mark
        onset = await call.wait_speech(mark, 12)
        if onset is None:
            if call.ended:
                return "engine hung up"
            queued, played = call.say(pcm)  # the engine listens: restart the menu
            log_to.append(Utterance(call.index, "setup", PHRASE, queued,
                                    len(pcm) / 2 / call.rate))
            await played
            continue
        heard_at = time.monotonic()
        offset = rng.uniform(args.min_offset, args.max_offset)
        await asyncio.sleep(max(0.0, heard_at + offset - time.monotonic()))
        if call.ended:
            return "engine hung up"
        queued, played = call.say(pcm)
        log_to.append(Utterance(call.index, "barge", PHRASE, queued, len(pcm) / 2 / call.rate,
                                {"offset_s": round(offset, 2)}))
        done += 1
        await played
    return "done"


async def drive(uri: str, pcm: bytes, args: argparse.Namespace, result: dict[str, Any],
                deadline: float) -> tuple[list[Utterance], dict[int, int]]:
    node = CallerNode(CALLER_RTP, RTP_RANGE)
    await node.start()
    said: list[Utterance] = []
    ports: dict[int, int] = {}
    endings: list[str] = []
    rng = random.Random(args.seed)
    try:
        for _ in range(args.max_calls):
            left = args.trials - sum(1 for u in said if u.kind == "barge")
            if left <= 0 or time.monotonic() > deadline - 30:
                break
            call = await node.dial(uri)
            ports[call.index] = remote_rtp_port(call.call) or 0
            endings.append(await interrupt(call, pcm, left, rng, args, said, deadline - 10))
            await call.hangup()
            await asyncio.sleep(0.5)
    finally:
        result["call_endings"] = endings
        await node.stop()
    return said, ports


def _trials(said: list[Utterance], ports: dict[int, int], capture: RtpEnergyCapture,
            events: list[dict[str, Any]], rms: float) -> list[dict[str, Any]]:
    trials = []
    for utt in said:
        if utt.kind != "barge":
            continue
        engine_port = ports.get(utt.call)
        peers = capture.peers_of(engine_port) if engine_port else set()
        if len(peers) != 1:
            trials.append({"call": utt.call, "invalid": f"no single caller stream ({peers})"})
            continue
        caller_port = peers.pop()
        trials.append(barge_trial(utt, capture.stream(caller_port, engine_port),
                                  capture.stream(engine_port, caller_port), events,
                                  caller_port, rms=rms))
    return trials


def analyse(said: list[Utterance], ports: dict[int, int], capture: RtpEnergyCapture,
            engine_log: str, rms: float) -> dict[str, Any]:
    events = probe_events(engine_log)
    trials = _trials(said, ports, capture, events, rms)
    valid = [t for t in trials if "reaction_ms" in t and "invalid" not in t]
    clean = [t for t in valid if not t.get("in_pause")]
    out: dict[str, Any] = {"speech_rms": rms, "trials": len(trials),
                           "trials_measured": len(clean),
                           "trials_in_pause": len(valid) - len(clean),
                           "trials_invalid": len(trials) - len(valid)}
    out["reaction_ms"] = summary([t["reaction_ms"] for t in clean])
    out["all_valid_ms"] = summary([t["reaction_ms"] for t in valid])
    calm = [t for t in clean if not t.get("disturbed")]
    out["trials_disturbed"] = len(clean) - len(calm)
    out["reaction_ms_undisturbed"] = summary([t["reaction_ms"] for t in calm])
    other = LOUD_RMS if rms != LOUD_RMS else 100.0
    alt = [t for t in _trials(said, ports, capture, events, other)
           if "reaction_ms" in t and "invalid" not in t and not t.get("in_pause")]
    out[f"reaction_ms_at_rms_{other:g}"] = summary([t["reaction_ms"] for t in alt])
    breakdown = {}
    for key in ("rx_path", "detect", "to_stop", "engine_cut", "cut_to_last_pull",
                "cut_to_wire_silent"):
        vals = [t["parts"][key] for t in clean if t.get("parts", {}).get(key) is not None]
        if vals:
            s = summary(vals)
            breakdown[key] = {"p50": s["p50"], "p95": s["p95"], "max": s["max"]}
    if breakdown:
        out["breakdown_ms"] = breakdown
    invalid = [t["invalid"] for t in trials if "invalid" in t]
    if invalid:
        out["invalid_reasons"] = {r: invalid.count(r) for r in set(invalid)}
    engine_ports = {p for p in ports.values() if p}
    callers = [capture.stream(c, e) for e in engine_ports for c in capture.peers_of(e)]
    engines = [capture.stream(e, c) for e in engine_ports for c in capture.peers_of(e)]
    # Both sides' sending regularity: the caller is this process (its bursts
    # grow the engine's jitter buffer, part of rx_path), the engine its clock.
    out["caller_send_jitter"] = send_jitter(callers)
    out["engine_send_jitter"] = send_jitter(engines)
    out["per_trial"] = [{k: v for k, v in t.items() if k != "parts"}
                        | {k: t["parts"][k] for k in ("rx_path", "detect", "engine_cut")
                           if k in t.get("parts", {})} for t in trials]
    return out


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    started = time.monotonic()
    deadline = started + args.budget
    pcm = synthesize_phrases([PHRASE])[PHRASE]
    capture: RtpEnergyCapture | None = None
    engine = None
    with tempfile.TemporaryDirectory(prefix="bench-barge-") as d:
        try:
            capture = RtpEnergyCapture([(ENGINE_RTP, ENGINE_RTP + RTP_RANGE),
                                        (CALLER_RTP, CALLER_RTP + RTP_RANGE)])
            engine = start_engine(Path(d), not args.plain, True, args.rms, args.jb)
            result["engine_start_s"] = round(time.monotonic() - started, 1)
            said, ports = asyncio.run(drive(engine.uri("100"), pcm, args, result, deadline))
            time.sleep(0.3)
            result.update(analyse(said, ports, capture, engine.log, args.rms))
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
    ap.add_argument("--trials", type=int, default=14)
    ap.add_argument("--max-calls", type=int, default=4)
    ap.add_argument("--min-offset", type=float, default=1.2,
                    help="earliest interruption, s after the prompt's first sound")
    ap.add_argument("--max-offset", type=float, default=2.8)
    ap.add_argument("--quiet", type=float, default=0.8,
                    help="silence (s) after which the caller takes a prompt as ended")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rms", type=float, default=100.0,
                    help="PCM16 RMS of a packet that carries speech (onset and end); the "
                         "lower, the earlier the onset and the stricter the measure")
    ap.add_argument("--plain", action="store_true", help="engine without the timing probe")
    ap.add_argument("--jb", default="", metavar="INIT,MINPRE,MAXPRE,MAX",
                    help="(experiment) the engine's jitter buffer in ms, set by the probe")
    ap.add_argument("--budget", type=float, default=TOTAL_BUDGET_S, help="s, whole run")
    ap.add_argument("--keep-log", help="write the engine's log to this file")
    args = ap.parse_args()
    out = json_stdout()
    setup_logging()
    started = time.monotonic()
    result: dict[str, Any] = {"bench": "barge_in"}
    if args.jb:
        result["jitter_buffer_ms"] = args.jb
    result["loadavg_1m_start"] = os.getloadavg()[0]
    error = run_measurement(lambda: run(args, result), log)
    reaction = result.get("reaction_ms") or {}
    result["target_p95_ms"] = TARGET_MS
    ok = (error is None and reaction.get("n", 0) >= 10 and reaction["p95"] <= TARGET_MS)
    result["pass"] = bool(ok)
    if error:
        result["error"] = error
    result["loadavg_1m_end"] = os.getloadavg()[0]
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    head = ["bench", "trials_measured", "reaction_ms", "target_p95_ms", "pass", "breakdown_ms"]
    write_result(out, result, head)
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
