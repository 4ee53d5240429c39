"""Real-time scheduling for pjmedia's clock and media threads.

Every RTP packet a node sends leaves from pjmedia's conference clock thread
("clock"), and every packet it receives is read by pjsua's media worker
("media"). On a busy host they compete with everything else for a core,
and a preempted clock is a gap in every call's audio at once. Since the
ring ports (:mod:`sip.media_port`) these two threads run C only and never
wait for Python, so giving them a real-time policy (``SCHED_RR``, as
telephony servers do for their media threads) costs nothing else and keeps
their ticks on time under load.

It needs CAP_SYS_NICE (root has it). Without it the threads get the
lowest nice value the process may set, else they are left as they are; the
node logs once which it got. pjlib 2.15 names its threads, so they are
found by name in ``/proc/self/task``; pjlib 2.12 does not, so the clock
thread is also taken from the ring ports, which note the thread that calls
them (``extra_threads``). The clock thread is created when the first call's
audio starts and again after the bridge is restarted, so
:meth:`MediaPriority.apply` is called periodically and handles each thread
once.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

MEDIA_THREAD_NAMES = frozenset({"clock", "media"})
RT_PRIORITY = 10  # of 1..99: above ordinary work, below kernel housekeeping
NICE = -10


class MediaPriority:
    """Raises the scheduling priority of pjmedia's threads of this process."""

    def __init__(self, enabled: bool = True,
                 extra_threads: Callable[[], Iterable[int | None]] = tuple) -> None:
        self.enabled = enabled
        self._extra_threads = extra_threads
        self._done: set[int] = set()
        self._reported = False
        self.policy = "unchanged"

    def apply(self) -> None:
        """Handle every media thread not seen yet (cheap: one /proc listing)."""
        if not self.enabled:
            return
        found = self._media_threads()
        found += [tid for tid in self._extra_threads() if tid is not None]
        for tid in found:
            if tid not in self._done:
                self._done.add(tid)
                self.policy = _raise(tid)
                if not self._reported:
                    self._reported = True
                    log.info("media threads scheduled as %s", self.policy)

    def _media_threads(self) -> list[int]:
        found = []
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                if (task / "comm").read_text().strip() in MEDIA_THREAD_NAMES:
                    found.append(int(task.name))
        self._done &= {int(t.name) for t in Path("/proc/self/task").iterdir()}
        return found


def _raise(tid: int) -> str:
    """Real-time if allowed, else a lower nice value, else nothing."""
    try:
        os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(RT_PRIORITY))
        return f"SCHED_RR {RT_PRIORITY}"
    except (PermissionError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, NICE)
        return f"nice {NICE}"
    except (PermissionError, OSError):
        return "unchanged (no CAP_SYS_NICE)"
