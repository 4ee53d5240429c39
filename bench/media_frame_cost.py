"""What one call leg's audio costs each 20 ms, on both sides of the rings.

Prints ONE JSON line on stdout (everything else goes to stderr).

The media path has two halves (sip/media_port.py, sip/media_pump.py):

- the clock-thread half: pjmedia calls the ring ports' C callbacks, which
  copy one frame into or out of a ring. ``clock_put_us``/``clock_get_us``
  time ``pjmedia_port_put_frame``/``get_frame`` on a real ring port, called
  through ctypes from here; ``ctypes_call_us`` is the same call on a port
  with no callbacks, i.e. the share of those figures that is this
  benchmark's own ctypes overhead, not the clock's cost;
- the Python half: :meth:`LegAudio.pump` for one leg and one 20 ms frame,
  in the four states a leg can be in: ``idle`` (recorded, nobody listening,
  nothing playing: greet-and-record or hold), ``listening`` (a conversation
  hears the caller), ``playing`` (a prompt is queued) and ``both``.

Median of 5000 passes each, at 8 and 16 kHz, with a real recording (its
writer flushed between batches, untimed). ``target_us`` gates the idle pump
(what hundreds of recorded calls on hold cost) and ``target_busy_us`` the
busiest state.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import json_stdout, setup_logging

from tests.support import audio

TARGET_US = 10.0
TARGET_BUSY_US = 30.0
RATES = (8000, 16000)
PASSES = 5000
log = logging.getLogger("bench.media_frame_cost")
pc = time.perf_counter_ns


def _median_us(samples: list[int]) -> float:
    return round(sorted(samples)[len(samples) // 2] / 1000.0, 2)


def run_rate(rate: int, tmp: Path) -> dict[str, Any]:
    """Every measurement at one clock rate."""
    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.leg_audio import LegAudio, frame_bytes
    from sip.media_port import FRAME_TYPE_AUDIO, MediaPort, _Frame, pj_lib
    from sip.recording import RecordingWriter

    lib = pj_lib()
    fb = frame_bytes(rate)
    loop = asyncio.new_event_loop()
    writer = RecordingWriter()  # not started: flushed between batches instead
    tone = audio.tone(440.0, 2.0, rate).tobytes()
    payload = ctypes.create_string_buffer(tone[:fb], fb)
    frame = _Frame()
    frame_addr = ctypes.addressof(frame)

    def put(port: int) -> None:
        frame.type, frame.buf, frame.size = FRAME_TYPE_AUDIO, ctypes.addressof(payload), fb
        lib.pjmedia_port_put_frame(port, frame_addr)

    def get(port: int) -> None:
        frame.type, frame.buf, frame.size = 0, ctypes.addressof(payload), fb
        lib.pjmedia_port_get_frame(port, frame_addr)

    # A leg bound by hand to two ring ports that never join a bridge.
    leg = LegAudio.__new__(LegAudio)
    LegAudio.__init__(leg, None, rate, FrameInbox(loop), FrameOutbox(loop, fb))  # type: ignore[arg-type]
    engine, tap = MediaPort("engine", rate), MediaPort("heard", rate)
    engine.enable(rx=True, tx=True)
    tap.enable(rx=True, tx=False)
    leg._engine, leg._tap = engine, tap
    leg.recording = rec = writer.open(tmp / f"leg-{rate}.wav", rate)
    bare = (ctypes.c_ubyte * 256)()  # a pjmedia_port with no callbacks

    res: dict[str, Any] = {}
    for name, fn in (("clock_put", lambda: put(engine.address)),
                     ("clock_get", lambda: get(engine.address)),
                     ("ctypes_call", lambda: put(ctypes.addressof(bare)))):
        samples = []
        for i in range(PASSES):
            t0 = pc()
            fn()
            samples.append(pc() - t0)
            if i % 50 == 0:
                engine.read()  # keep the ring from filling
        res[f"{name}_us"] = _median_us(samples)

    # What the pump reads was really put there, and what it writes is played.
    engine.read()
    put(engine.address)
    assert engine.read() == tone[:fb]
    leg.outbox.queue(tone[:fb])
    leg.pump(5)
    get(engine.address)
    assert payload.raw == tone[:fb] and frame.type == FRAME_TYPE_AUDIO

    for state, listening, playing in (("idle", False, False), ("listening", True, False),
                                      ("playing", False, True), ("both", True, True)):
        leg.inbox.listening = listening
        samples = []
        for i in range(PASSES):
            if playing and not leg.outbox.busy:
                leg.outbox.queue(tone)
            put(engine.address)
            put(tap.address)
            get(engine.address)
            t0 = pc()
            leg.pump(5)
            samples.append(pc() - t0)
            if i % 100 == 99:  # untimed: the loop runs its wake-ups, the recorder writes
                loop.call_soon(loop.stop)
                loop.run_forever()
                writer.flush_all()
        res[f"pump_{state}_us"] = _median_us(samples)
        leg.outbox.clear()
    res["recording_dropped"] = rec.dropped_frames
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
    with tempfile.TemporaryDirectory(prefix="bench-frame-") as d:
        for rate in RATES:
            try:
                per_rate[str(rate)] = run_rate(rate, Path(d))
            except Exception as exc:  # report it in the JSON line
                log.exception("rate %d failed", rate)
                error = f"{type(exc).__name__}: {exc}"
                break
    result: dict[str, Any] = {"bench": "media_frame_cost", "rates": list(RATES)}
    ok = error is None
    if ok:
        for key in per_rate[str(RATES[0])]:
            result[key] = max(per_rate[str(r)][key] for r in RATES)
        result["per_rate"] = per_rate
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine
    result["target_us"] = TARGET_US
    result["target_busy_us"] = TARGET_BUSY_US
    result["pass"] = bool(ok and result["pump_idle_us"] <= TARGET_US
                          and result["pump_both_us"] <= TARGET_BUSY_US)
    if error:
        result["error"] = error
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
