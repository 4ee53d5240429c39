"""Check the installed pjsua2 binding: limits, exported C symbols, GIL release.

Run with the venv's python (scripts/build-pjsua2 does after installing).
Prints one JSON line and exits 1 if a minimum is not met::

    .venv/bin/python scripts/pjsua2/probe.py [--min-calls 512] [--min-conf-ports 2048]

- ``max_calls``: ``pjsua_call_get_max_count()`` after ``libInit`` with
  ``maxCalls=1024``, as sip/endpoint.py does (pjsua clamps to its build).
- ``max_conf_ports``: ``pjsua_conf_get_max_ports()``.
- ``missing_symbols``: C functions the engine (or a ctypes media port) calls
  that ``_pjsua2*.so`` does not export dynamically.
- ``gil_released``: whether a Python thread keeps running while the SIP
  thread sits in ``libHandleEvents``; without SWIG ``-threads`` it does not
  and a loaded node starves (DESIGN.md, "The GIL").
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import threading
import time

import pjsua2 as pj
import pjsua2._pjsua2 as _pjsua2_lib

SYMBOLS = (
    "pjsua_call_get_max_count", "pjsua_conf_get_max_ports", "pjsua_conf_add_port",
    "pjsua_conf_connect", "pjsua_call_get_conf_port", "pjmedia_port_info_init",
    "pjsua_pool_create", "pjmedia_mem_capture_create", "pjmedia_mem_player_create",
    "pjsua_conf_remove_port", "pjmedia_port_destroy",
)


def _gil_released(ep: object) -> bool:
    """Count Python steps in a second thread while this one waits in pjsua."""
    steps = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal steps
        while not stop.is_set():
            steps += 1

    worker = threading.Thread(target=spin)
    worker.start()
    time.sleep(0.05)
    before = steps
    ep.libHandleEvents(300)  # type: ignore[attr-defined]
    during = steps - before
    stop.set()
    worker.join()
    # Holding the GIL, the spinner gets no steps at all in those 300 ms (it
    # may get a few around the call); released, it gets hundreds of thousands.
    return during > 10_000


def probe() -> dict[str, object]:
    lib = ctypes.CDLL(_pjsua2_lib.__file__)
    missing = [name for name in SYMBOLS if not hasattr(lib, name)]
    lib.pj_log_set_level(0)  # pjlib's start-up lines would precede the JSON
    ep = pj.Endpoint()
    ep.libCreate()
    try:
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = 1024
        cfg.uaConfig.threadCnt = 0
        cfg.logConfig.level = 0
        cfg.logConfig.consoleLevel = 0
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        ep.libStart()
        lib.pjsua_call_get_max_count.restype = ctypes.c_uint
        lib.pjsua_conf_get_max_ports.restype = ctypes.c_uint
        return {
            "version": str(ep.libVersion().full),
            "module": _pjsua2_lib.__file__,
            "max_calls": int(lib.pjsua_call_get_max_count()),
            "max_conf_ports": int(lib.pjsua_conf_get_max_ports()),
            "codecs": sorted(str(c.codecId) for c in ep.codecEnum2()),
            "missing_symbols": missing,
            "gil_released": _gil_released(ep),
        }
    finally:
        ep.libDestroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-calls", type=int, default=0)
    parser.add_argument("--min-conf-ports", type=int, default=0)
    args = parser.parse_args()
    facts = probe()
    print(json.dumps(facts))
    ok = (int(str(facts["max_calls"])) >= args.min_calls
          and int(str(facts["max_conf_ports"])) >= args.min_conf_ports
          and not facts["missing_symbols"] and facts["gil_released"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
