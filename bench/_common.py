"""Helpers shared by the benchmarks (not a benchmark itself).

Every benchmark prints one JSON line on stdout; pjlib writes its early logs
to fd 1, so children that start an endpoint send fd 1 to stderr and keep a
private handle for the JSON line (:func:`json_stdout`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")


def json_stdout() -> TextIO:
    """A handle on the real stdout for the JSON line; fd 1 goes to stderr."""
    out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    return out


def run_child(args: list[str], timeout: float) -> tuple[int, dict[str, Any] | None]:
    """Run ``python <args>`` from the repository root, its stderr passed on.

    Returns its exit status (negative: killed by that signal) and its last
    JSON line, if any: a crash in a child cannot take the caller's JSON line
    with it.
    """
    done = subprocess.run([sys.executable, "-X", "faulthandler", *args],
                          stdout=subprocess.PIPE, text=True, timeout=timeout, cwd=str(ROOT))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return done.returncode, json.loads(lines[-1]) if lines else None


def start_endpoint(rate: int) -> Any:
    """A started pjsua2 endpoint, media configured as sip/endpoint.py does,
    with the null sound device: pjmedia's clock runs the conference bridge."""
    import pjsua2 as pj

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.maxCalls = 4
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = False
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    med = cfg.medConfig
    med.clockRate = rate
    med.sndClockRate = rate
    med.noVad = True
    med.ecTailLen = 0
    med.ptime = 20
    med.threadCnt = 1
    med.hasIoqueue = True
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    return ep


def tone_generators(rate: int, count: int) -> list[Any]:
    """Looping 440 Hz ToneGenerators that stand in for calls' RTP streams.

    Keep them until the clock has stopped (``setNoDev``): pjsua2 frees a
    ToneGenerator's memory right after queueing its removal from the bridge.
    """
    import pjsua2 as pj

    desc = pj.ToneDesc()
    desc.freq1, desc.freq2, desc.on_msec, desc.off_msec = 440, 0, 1000, 0
    tones = pj.ToneDescVector()
    tones.append(desc)
    streams = []
    for _ in range(count):
        stream = pj.ToneGenerator()
        stream.createToneGenerator(rate, 1)
        stream.play(tones, True)
        streams.append(stream)
    return streams


async def consume(inbox: Any) -> None:
    """Drain a FrameInbox as a call's listener does."""
    async for _ in inbox.frames():
        pass


def burn() -> None:
    """Pure-Python work without pause, competing for the GIL (run in a thread)."""
    x = 0
    while True:
        for i in range(10000):
            x += i * i
        x = 0


def run_measurement(body: Callable[[], None], log: logging.Logger) -> str | None:
    """Run a benchmark's measuring part; an exception becomes one line for
    the JSON result (its traceback goes to the log)."""
    try:
        body()
    except Exception as exc:
        log.exception("bench failed")
        return f"{type(exc).__name__}: {exc}"
    return None


def write_result(out: TextIO, result: dict[str, Any], head: list[str]) -> None:
    """`result` as one JSON line on `out`, the headline keys `head` first."""
    ordered = {k: result[k] for k in head if k in result}
    ordered.update({k: v for k, v in result.items() if k not in ordered})
    out.write(json.dumps(ordered) + "\n")
    out.flush()
