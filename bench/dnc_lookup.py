"""National DNC lookups over 10 million registry numbers: speed, memory, import, load.

The parent generates 10M distinct random NANP numbers (seeded; area codes
and exchanges 200-999 without N11 codes), writes them as an FTC registry
file (one 10-digit number a line) in a temporary folder and imports it
through the real path (``compliance.dnc_registry_file.import_registry_file``,
timed). A fresh child process then loads the snapshot and measures, so that
generation and import cost none of its memory:

- ``load_ms``: reading the memory-mapped snapshot, CRC check included;
- ``rss_loaded_mb``: the child's RSS with the snapshot loaded (every page
  touched by the CRC pass), ``rss_baseline_mb`` the same before loading
  (Python, numpy, the modules), ``rss_peak_mb`` its high-water mark after
  the lookups (query arrays included);
- ``batch_checks_per_s``: ``contains_many`` over 1M numbers, half listed and
  half not (best of 5 runs); the dialer's pre-check path;
- ``scalar_checks_per_s``: ``contains_ten_digits`` one number at a time
  from Python, and ``scalar_e164_checks_per_s``: ``contains("+1...")``, the
  path ``StoreDialFacts`` takes (reported; the target is judged on batch).

Prints one JSON line; exits 0 when ``pass``. Temporary files are removed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from _common import run_child, setup_logging, write_result
from numpy.typing import NDArray

from compliance.dnc_registry import SnapshotFolder, read_snapshot
from compliance.dnc_registry_file import import_registry_file

log = logging.getLogger("bench.dnc_lookup")
TARGETS = {"checks_per_s": 1_000_000, "rss_loaded_mb": 200}
NUMBERS = 10_000_000
QUERIES = 1_000_000
SNAPSHOT_DATE = date(2026, 1, 5)
HEAD = ["pass", "batch_checks_per_s", "rss_loaded_mb", "scalar_checks_per_s",
        "scalar_e164_checks_per_s", "load_ms", "import_s", "numbers", "target"]


def _codes() -> NDArray[np.int64]:
    # 200-999 without N11 (211, 311, ... 911): the NANP's shape for area codes and exchanges.
    codes = np.arange(200, 1000, dtype=np.int64)
    return codes[codes % 100 != 11]


def _random_numbers(rng: np.random.Generator, count: int) -> NDArray[np.int64]:
    codes = _codes()
    return (rng.choice(codes, count) * 10_000_000 + rng.choice(codes, count) * 10_000
            + rng.integers(0, 10_000, count))


def _distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    # Sorting beats np.unique here: numpy 2.4's unique hashes first (12 s for 10M).
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _distinct_numbers(rng: np.random.Generator, count: int) -> NDArray[np.int64]:
    """``count`` distinct numbers in random order (a file need not be sorted)."""
    numbers = _distinct(_random_numbers(rng, count + count // 50))
    while len(numbers) < count:
        numbers = _distinct(np.concatenate([numbers, _random_numbers(rng, count // 100)]))
    rng.shuffle(numbers)
    return numbers[:count]


def _write_registry_file(numbers: NDArray[np.int64], path: Path) -> None:
    powers = 10 ** np.arange(9, -1, -1, dtype=np.int64)
    with open(path, "wb") as out:
        for start in range(0, len(numbers), 1_000_000):
            part = numbers[start:start + 1_000_000]
            text = np.empty((len(part), 11), dtype=np.uint8)
            text[:, :10] = (part[:, None] // powers) % 10 + ord("0")
            text[:, 10] = ord("\n")
            out.write(text.tobytes())


def _queries(rng: np.random.Generator, listed: NDArray[np.int64]) -> NDArray[np.int64]:
    """Half listed numbers, half numbers checked to be unlisted, shuffled."""
    hits = rng.choice(listed, QUERIES // 2)
    ordered = np.sort(listed)
    misses = np.zeros(0, dtype=np.int64)
    while len(misses) < QUERIES - len(hits):
        candidates = _random_numbers(rng, QUERIES)
        at = np.minimum(np.searchsorted(ordered, candidates), len(ordered) - 1)
        misses = np.concatenate([misses, candidates[ordered[at] != candidates]])
    return rng.permutation(np.concatenate([hits, misses[:QUERIES - len(hits)]]))


def _memory_mb(field: str = "VmRSS") -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rate(count: int, seconds: float) -> int:
    return int(count / seconds)


def child(snapshot: Path, queries_path: Path) -> dict[str, Any]:
    """Load the snapshot in this fresh process and measure lookups."""
    baseline = _memory_mb()
    start = time.perf_counter()
    registry = read_snapshot(snapshot)
    load_ms = (time.perf_counter() - start) * 1000
    loaded = _memory_mb()
    queries = np.load(queries_path)
    batch_times = []
    for _ in range(5):
        start = time.perf_counter()
        found = registry.contains_many(queries)
        batch_times.append(time.perf_counter() - start)
    as_ints = queries.tolist()
    start = time.perf_counter()
    scalar_found = sum(map(registry.contains_ten_digits, as_ints))
    scalar_s = time.perf_counter() - start
    as_e164 = [f"+1{n}" for n in as_ints[:200_000]]
    start = time.perf_counter()
    e164_found = sum(map(registry.contains, as_e164))
    e164_s = time.perf_counter() - start
    return {
        "load_ms": round(load_ms, 1),
        "rss_baseline_mb": round(baseline, 1),
        "rss_loaded_mb": round(loaded, 1),
        "rss_peak_mb": round(_memory_mb("VmHWM"), 1),
        "batch_checks_per_s": _rate(len(queries), min(batch_times)),
        "scalar_checks_per_s": _rate(len(as_ints), scalar_s),
        "scalar_e164_checks_per_s": _rate(len(as_e164), e164_s),
        "batch_found": int(found.sum()),
        "scalar_found": scalar_found,
        "e164_found": e164_found,
        "e164_expected": int(found[:len(as_e164)].sum()),
        "registry_numbers": len(registry),
    }


def parent() -> dict[str, Any]:
    """Generate, import, then measure in a child; the JSON result."""
    rng = np.random.default_rng(20260105)
    result: dict[str, Any] = {"numbers": NUMBERS, "queries": QUERIES, "target": TARGETS}
    with tempfile.TemporaryDirectory(prefix="dnc-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        numbers = _distinct_numbers(rng, NUMBERS)
        queries = _queries(rng, numbers)
        source = folder / "registry.txt"
        _write_registry_file(numbers, source)
        del numbers
        np.save(folder / "queries.npy", queries)
        result["generate_s"] = round(time.perf_counter() - start, 2)
        log.info("generated %d numbers in %.1f s", NUMBERS, result["generate_s"])
        start = time.perf_counter()
        imported = import_registry_file(source, SNAPSHOT_DATE, SnapshotFolder(folder / "dnc"))
        result["import_s"] = round(time.perf_counter() - start, 2)
        result["registry_file_mb"] = round(source.stat().st_size / 2**20, 1)
        result["snapshot_mb"] = round(imported.snapshot.stat().st_size / 2**20, 1)
        log.info("imported in %.1f s", result["import_s"])
        status, measured = run_child([__file__, "--child", str(imported.snapshot),
                                      str(folder / "queries.npy")], timeout=150)
    if measured is None:
        return result | {"pass": False, "error": f"child exited {status} without a result"}
    result.update(measured)
    correct = (measured["registry_numbers"] == NUMBERS
               and measured["batch_found"] == measured["scalar_found"] == QUERIES // 2
               and measured["e164_found"] == measured["e164_expected"])
    result["lookups_correct"] = correct
    result["scalar_meets_target"] = measured["scalar_checks_per_s"] >= TARGETS["checks_per_s"]
    result["pass"] = bool(correct
                          and measured["batch_checks_per_s"] >= TARGETS["checks_per_s"]
                          and measured["rss_loaded_mb"] <= TARGETS["rss_loaded_mb"])
    return result


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--child", nargs=2, metavar=("SNAPSHOT", "QUERIES"),
                           help=argparse.SUPPRESS)
    args = arguments.parse_args()
    setup_logging()
    result = child(Path(args.child[0]), Path(args.child[1])) if args.child else parent()
    write_result(sys.stdout, result, HEAD)
    return 0 if args.child or result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
