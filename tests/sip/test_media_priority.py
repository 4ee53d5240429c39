"""Real-time scheduling of pjmedia's threads, found by name (a stand-in thread here)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sip.media_priority import MediaPriority


def _named_thread(name: str, stop: threading.Event, ready: threading.Event) -> None:
    # Named as pjlib names its threads (pthread_setname_np writes the same file).
    Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name)
    ready.set()
    stop.wait(5)


def test_a_thread_named_clock_gets_real_time_or_nice() -> None:
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=_named_thread, args=("clock", stop, ready))
    thread.start()
    try:
        ready.wait(2)
        priority = MediaPriority()
        priority.apply()
        tid = thread.native_id
        assert tid is not None
        if os.geteuid() == 0:
            assert os.sched_getscheduler(tid) == os.SCHED_RR
            assert priority.policy.startswith("SCHED_RR")
        else:
            assert priority.policy  # nice if allowed, else "unchanged": never an error
        main = threading.main_thread().native_id
        assert main is not None and os.sched_getscheduler(main) == os.SCHED_OTHER
    finally:
        stop.set()
        thread.join()


def test_off_switch_leaves_threads_alone() -> None:
    priority = MediaPriority(enabled=False)
    priority.apply()
    assert priority.policy == "unchanged"


@pytest.fixture(autouse=True)
def _linux_only() -> None:
    if not hasattr(os, "sched_setscheduler"):
        pytest.skip("needs Linux scheduling calls")
