"""Run the ``callcenter`` CLI with diagnostic hooks (bench helper).

``python bench/_engine_probe.py serve ...`` behaves like ``python -m callcenter
serve ...`` and also writes one stderr line per collection that took at least
``GC_PROBE_MIN_MS`` (default 2) ms, or was a full (generation 2) one:

    gcprobe gen=2 ms=34.1 end=1763775000.123456 objects=100519

With ``GC_PROBE_FORCE_S=S`` a thread runs a full ``gc.collect()`` every S
seconds, to show what a full collection does to the media loop (the
collection holds the GIL, and pjmedia's clock thread needs the GIL for every
port callback). With ``GC_PROBE_FREEZE=1`` that thread first calls
``gc.freeze()`` (after its first sleep, i.e. once the engine has started):
the proposed fix, so that collections skip everything built at start-up.

``PROBE_BURN=1`` adds a thread running pure-Python work without pause (as
CPU-bound Python code on the event loop or in a worker would), competing with
pjmedia's clock thread for the GIL. ``PROBE_SWITCH_S=X`` sets
``sys.setswitchinterval(X)`` (default 0.005 s).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

from _common import burn  # also puts the repository root on sys.path

_MIN_MS = float(os.environ.get("GC_PROBE_MIN_MS", "2"))
_FORCE_S = float(os.environ.get("GC_PROBE_FORCE_S", "0"))
_FREEZE = os.environ.get("GC_PROBE_FREEZE", "") == "1"
_BURN = os.environ.get("PROBE_BURN", "") == "1"
_SWITCH_S = float(os.environ.get("PROBE_SWITCH_S", "0") or 0)
_start = [0]


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _start[0] = time.perf_counter_ns()
        return
    ms = (time.perf_counter_ns() - _start[0]) / 1e6
    if ms >= _MIN_MS or info["generation"] == 2:
        sys.stderr.write(f"gcprobe gen={info['generation']} ms={ms:.1f} end={time.time():.6f} "
                         f"objects={len(gc.get_objects()) if info['generation'] == 2 else -1}\n")
        sys.stderr.flush()


def _force() -> None:
    time.sleep(_FORCE_S)
    if _FREEZE:
        gc.freeze()
        sys.stderr.write(f"gcprobe-freeze frozen={gc.get_freeze_count()}\n")
    while True:
        gc.collect()
        time.sleep(_FORCE_S)


def _burn() -> None:
    time.sleep(2)  # let the engine start
    burn()


gc.callbacks.append(_on_gc)
if _SWITCH_S > 0:
    sys.setswitchinterval(_SWITCH_S)
if _BURN:
    threading.Thread(target=_burn, name="burn", daemon=True).start()
if _FORCE_S > 0:
    threading.Thread(target=_force, name="gc-force", daemon=True).start()

from callcenter.cli import main  # noqa: E402

main(prog_name="callcenter")
