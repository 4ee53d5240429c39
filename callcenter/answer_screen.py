"""Who answered a campaign call, person or machine, and when a machine's beep
lets the message start: `outbound.answering_machine` run over the call's
incoming frames (``SipCall.frames()``) on the event loop.

The detector costs about 45 µs per 20 ms frame (bench/answering_machine.py),
light enough for the loop. Every wait is bounded: frames that stop coming
(no RTP) end the decision at ``decision_s`` plus a margin as a person, and
the wait for the beep at ``beep_wait_max_s`` plus a margin as a timeout.
The frames are read only while screening: `close` hands the call's audio
back to whoever listens next (the flow).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import cast

from callcenter.core.settings import AnsweringMachineSettings
from outbound.answering_machine import (
    AmdDecision,
    AnsweringMachineDetector,
    MessageCue,
    Verdict,
)
from sip.call import SipCall

log = logging.getLogger(__name__)

#: Seconds of wall clock allowed beyond the audio's own deadlines (a late media clock).
MARGIN_S = 2.0


class AnswerScreen:
    """One answered call's screening; `decide` first, then (on a machine) `message_cue`."""

    def __init__(self, call: SipCall, settings: AnsweringMachineSettings) -> None:
        assert call.media is not None, "screen an answered call"
        self.call = call
        self.settings = settings
        self.detector = AnsweringMachineDetector(call.media.clock_rate, settings)
        self._frames: AsyncIterator[bytes] = aiter(call.frames())

    async def decide(self) -> AmdDecision:
        """Person or machine, by ``decision_s`` after the answer; a call whose
        audio stops or that ends first counts as a person (the flow then finds
        out)."""
        limit = self.settings.decision_s + MARGIN_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._feed_until(lambda: self.detector.decision), limit)
        if self.detector.decision is None:
            return AmdDecision(Verdict.HUMAN, "no_audio", round(self.detector.elapsed_s, 3))
        return self.detector.decision

    async def message_cue(self) -> MessageCue | None:
        """On a machine: the end of its beep (or greeting), or the time limit;
        None if the call ended first."""
        limit = self.settings.beep_wait_max_s + self.settings.decision_s + MARGIN_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._feed_until(lambda: self.detector.cue), limit)
        if self.detector.cue is None and not self.call.ended.done():
            return MessageCue("timeout", round(self.detector.elapsed_s, 3))
        if self.detector.cue is not None:
            log.info("call %s: the message may start (%s, %.2f s after the answer)",
                     self.call.id, self.detector.cue.reason, self.detector.cue.at_s)
        return self.detector.cue

    async def _feed_until(self, found: Callable[[], object | None]) -> None:
        async for frame in self._frames:
            self.detector.feed(frame)
            if found() is not None:
                return

    async def close(self) -> None:
        """Stop reading the call's frames."""
        frames = cast("AsyncGenerator[bytes, None]", self._frames)
        with contextlib.suppress(Exception):
            await frames.aclose()
