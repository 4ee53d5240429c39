"""The media pump: one Python thread that moves every leg's audio in one pass.

Ring ports (:mod:`sip.media_port`) keep pjmedia's clock thread out of
Python. This thread does the Python half every ``period_s`` (20 ms, one
frame; its cost is per pass, not per frame): for
each leg it takes what the bridge left in the rings (the caller's voice,
for the leg's listener and channel 1 of its recording; what the caller
heard, for channel 2) and tops the engine port's tx ring up from the leg's
:class:`~sip.audio_buffers.FrameOutbox`, ``tx_depth`` frames ahead.

Why ahead: the pump may be late (a garbage collection, a busy loop) and the
clock must not run dry mid-prompt. It costs no latency: an empty ring plays
new audio at the next tick, and barge-in flushes the ring at once (the
outbox's clear hook). The rx rings hold over a second, so a stalled pump
loses nothing either.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sip.leg_audio import LegAudio

log = logging.getLogger(__name__)


class MediaPump:
    """Moves audio between the ring ports and asyncio/recordings for all legs."""

    def __init__(self, period_s: float = 0.02, tx_depth: int = 5) -> None:
        self.period_s = period_s
        self.tx_depth = tx_depth
        self._legs: tuple[LegAudio, ...] = ()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0
        self.late_cycles = 0  # cycles that started more than a period late

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="media-pump", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def add(self, leg: LegAudio) -> None:
        """Serve `leg` from the next cycle on (any thread)."""
        with self._lock:
            if leg not in self._legs:
                self._legs = (*self._legs, leg)

    def remove(self, leg: LegAudio) -> None:
        """Stop serving `leg` (any thread); a cycle under way may still touch it."""
        with self._lock:
            self._legs = tuple(x for x in self._legs if x is not leg)

    @property
    def legs(self) -> int:
        return len(self._legs)

    @property
    def native_id(self) -> int | None:
        """The pump thread's OS id (for CPU accounting), while it runs."""
        return self._thread.native_id if self._thread is not None else None

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.pump_once()
            self.cycles += 1
            next_at += self.period_s
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                self.late_cycles += 1
                next_at = time.monotonic()  # do not try to catch up in a burst

    def pump_once(self) -> None:
        """One pass over every leg (the thread's body; tests call it directly)."""
        for leg in self._legs:
            try:
                leg.pump(self.tx_depth)
            except Exception:  # one leg's fault must not stop every call's audio
                log.exception("media pump: leg failed")
