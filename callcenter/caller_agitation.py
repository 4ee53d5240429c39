"""Tone and pace of one call's caller, measured as each utterance ends.

    agitation = CallerAgitation(rate, on_scored=publish)
    stream.on_utterance = agitation.utterance_ended   # raw PCM, before ASR
    voice = await agitation.voice_until(final.utterance)  # for the dialog's input

Every utterance the endpointer ends is scored by an
:class:`asr.agitation.AgitationTracker` in a worker thread (never on the
event loop), one at a time and in order, whether or not the dialog was
listening and whatever the recognizer made of it. The dialog gets the scores
of every utterance since its last input along with the next one
(``CallerInput.voice``) and decides (``dialog.escalation_policy``).
:attr:`CallerAgitation.cpu_s` over :attr:`CallerAgitation.audio_s` is the
measured cost (``bench/escalation.py`` reports the same figure on EmoDB).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from asr.agitation import AgitationConfig, AgitationTracker
from callcenter.core.speech import CallTrend, UtteranceScores

log = logging.getLogger(__name__)


class CallerAgitation:
    """One call's agitation scores; all methods on the event loop."""

    def __init__(self, rate: int, config: AgitationConfig | None = None, *,
                 on_scored: Callable[[UtteranceScores, CallTrend], None] | None = None) -> None:
        """`on_scored(scores, trend)` hears each utterance's scores (on the loop)."""
        self.rate = rate
        self.tracker = AgitationTracker(config)
        self._on_scored = on_scored
        self._jobs: dict[int, asyncio.Task[UtteranceScores | None]] = {}
        self._order = asyncio.Lock()
        self._last_end_s = 0.0
        self.cpu_s = 0.0
        self.audio_s = 0.0

    def utterance_ended(self, utterance: int, audio: bytes, end_ms: int) -> None:
        """An utterance's raw PCM (the stream's ``on_utterance``): score it soon."""
        self._jobs[utterance] = asyncio.get_running_loop().create_task(
            self._score(audio, end_ms / 1000.0), name=f"agitation-{utterance}")

    async def _score(self, audio: bytes, end_s: float) -> UtteranceScores | None:
        async with self._order:  # the tracker sees utterances one at a time, in order
            length_s = len(audio) / 2 / self.rate
            gap_s = max(0.0, end_s - length_s - self._last_end_s)
            self._last_end_s = end_s
            try:
                scores, cpu_s = await asyncio.to_thread(self._feed, audio, gap_s)
            except Exception:
                log.exception("prosody analysis failed")
                return None
            self.cpu_s += cpu_s
            self.audio_s += length_s
            if self._on_scored is not None:
                self._on_scored(scores, self.tracker.trend())
            return scores

    def _feed(self, audio: bytes, gap_s: float) -> tuple[UtteranceScores, float]:
        started = time.thread_time()
        scores = self.tracker.feed(audio, self.rate, gap_s=gap_s)
        return scores, time.thread_time() - started

    async def voice_until(self, utterance: int) -> tuple[UtteranceScores, ...]:
        """Scores of every utterance up to `utterance` not handed out yet, oldest
        first (waits for those still being scored)."""
        due = sorted(n for n in self._jobs if n <= utterance)
        found: list[UtteranceScores] = []
        for n in due:
            scores = await self._jobs.pop(n)
            if scores is not None:
                found.append(scores)
        return tuple(found)

    def trend(self) -> CallTrend:
        """The call's agitation trend on tone and pace so far."""
        return self.tracker.trend()

    @property
    def load(self) -> float:
        """CPU seconds spent per second of caller speech analysed (0 before any)."""
        return self.cpu_s / self.audio_s if self.audio_s else 0.0

    async def aclose(self) -> None:
        """Stop: utterances still being scored are abandoned."""
        jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
