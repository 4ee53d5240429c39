"""Attach and detach call legs while pjmedia's clock runs: the process must live.

Prints ONE JSON line on stdout (everything else goes to stderr).

Each child process starts a pjsua2 endpoint (null sound device = the bridge
clock) and, for ``--seconds``, attaches ``--legs`` ``sip.leg_audio.LegAudio``
legs to long-lived stand-in streams (ToneGenerators), lets two of them hear
each other as a bridged call does, then detaches them all: a call's start
and end, over and over. Then it shuts down in the product's order
(``setNoDev``, ``PortPool.destroy``, ``libDestroy``) and exits 0. The parent
counts the children that did not exit 0 (a signal: negative code).

``--mode pool`` (default) takes the ports from the real :class:`PortPool`,
which recycles them; the pool must stay at ``--legs`` port pairs.
``--mode delete`` makes the pool forget every released pair. With pjsua2's
own ports that deleted them while the clock could still call into them
(aborts and segfaults); ring ports live in C memory that is never freed, so
now it only shows the bridge filling up with ports no leg uses.

tests/sip/test_port_teardown.py runs this with ``--mode pool --burn``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
import time
from typing import Any

from _common import burn, json_stdout, run_child, setup_logging, start_endpoint, tone_generators

RATE = 8000
log = logging.getLogger("bench.port_teardown_race")


def child(seconds: float, mode: str, legs_per_cycle: int, use_burn: bool) -> dict[str, Any]:
    from sip.audio_buffers import FrameInbox, FrameOutbox
    from sip.leg_audio import LegAudio, PortPool, frame_bytes
    from sip.media_pump import MediaPump

    class DeletingPool(PortPool):
        """Released ports are forgotten: a new pair for every leg."""

        def release(self, leg: Any, pair: Any) -> None:
            super().release(leg, pair)
            self._idle[leg.clock_rate].remove(pair)
            self._all.remove(pair)

    ep = start_endpoint(RATE)
    streams = tone_generators(RATE, legs_per_cycle)  # alive until the clock stops
    pump = MediaPump()
    pump.start()
    pool = PortPool(pump) if mode == "pool" else DeletingPool(pump)
    loop = asyncio.new_event_loop()
    if use_burn:
        threading.Thread(target=burn, name="burn", daemon=True).start()
    cycles = pool_max = 0
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        legs = [LegAudio(pool, RATE, FrameInbox(loop), FrameOutbox(loop, frame_bytes(RATE)))
                for _ in streams]
        for i, leg in enumerate(legs):
            leg.attach(int(streams[i].getPortId()))
        if len(legs) >= 2:  # a bridged pair
            legs[0].hear(legs[1])
            legs[1].hear(legs[0])
        pool_max = max(pool_max, pool.size)
        time.sleep(0.004 + (cycles % 7) * 0.003)
        for leg in legs:
            leg.detach(legs)
        cycles += 1
    # The product's shutdown order (sip/node.py): stop the clock, then delete.
    ep.audDevManager().setNoDev()
    pump.stop()
    pool_end = pool.size
    keep = pool.destroy()  # port memory lives until libDestroy
    del streams  # the last reference: pjsua2 objects must go before libDestroy
    ep.libDestroy()
    del keep
    loop.close()
    return {"cycles": cycles, "pool_size_max": pool_max, "pool_size_end": pool_end}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=("pool", "delete"), default="pool")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--legs", type=int, default=4, help="legs attached at once")
    ap.add_argument("--burn", action="store_true",
                    help="a CPU-bound Python thread competes for the GIL")
    ap.add_argument("--seconds", type=float, default=6.0, help="per run")
    args = ap.parse_args()
    setup_logging()
    if args.child:
        out = json_stdout()
        out.write(json.dumps(child(args.seconds, args.mode, args.legs, args.burn)) + "\n")
        out.flush()
        return 0

    started = time.monotonic()
    child_args = [__file__, "--child", "--mode", args.mode, "--legs", str(args.legs),
                  "--seconds", str(args.seconds)] + (["--burn"] if args.burn else [])
    codes, cycles, pool_max = [], 0, 0
    for _ in range(args.runs):
        code, r = run_child(child_args, timeout=args.seconds + 30)
        codes.append(code)
        if code != 0:
            log.warning("run exited %d (its stderr is above)", code)
        if r is not None:
            cycles += r["cycles"]
            pool_max = max(pool_max, r["pool_size_max"])
    failed = sum(1 for c in codes if c != 0)
    bounded = args.mode != "pool" or pool_max <= args.legs
    ok = failed == 0 and bounded
    print(json.dumps({"bench": "port_teardown_race", "mode": args.mode, "burn": args.burn,
                      "runs": args.runs, "seconds_per_run": args.seconds,
                      "legs_per_cycle": args.legs, "failed_runs": failed, "exit_codes": codes,
                      "completed_cycles": cycles, "pool_size_max": pool_max,
                      "pool_bounded": bounded, "pass": ok,
                      "elapsed_s": round(time.monotonic() - started, 1)}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
