"""Where an utterance starts and ends, from per-frame voice decisions.

Pure logic: the :class:`Endpointer` is fed one boolean (voiced or not) and
the frame's audio at a time, and returns the events that frame caused. It
does no I/O and keeps no clock: time is counted in frames, so the same
sequence always gives the same events, and tests run synchronously.

One turn, as the caller of :meth:`Endpointer.push` sees it::

    arm() ── silence ... ──► NoInput                 (no_input_timeout_ms)
      │
      ├─ voiced >= barge_in_confirm_ms within start_window_ms ──► VoiceOnset
      │    (once per onset: the fast barge-in signal; may still be a cough)
      └─ voiced >= start_ms within start_window_ms: an utterance opens
         (audio from preroll_ms before its first voiced frame), unreported
           ├─ voiced >= min_speech_ms ──► SpeechStarted
           ├─ silence >= end silence:
           │     confirmed ──► UtteranceEnded
           │     not confirmed: a click or cough, dropped without an event
           └─ length >= max_utterance_ms ──► MaxLengthReached (an UtteranceEnded)

Every SpeechStarted is followed by exactly one UtteranceEnded (or
MaxLengthReached), so a consumer that paused for a barge-in always hears
how it ended.

The end silence is adaptive: ``end_silence_ms_complete`` when what was said
looks like a finished answer, ``end_silence_ms_incomplete`` otherwise. The
owner may say which with :meth:`Endpointer.set_complete_hint` (for example
from a partial transcript, see :func:`looks_complete`); without a hint, an
utterance with less than ``short_answer_ms`` of voiced audio counts as
complete ("yes", "agent") and a longer one as incomplete.

The settings are :class:`callcenter.core.listening.EndpointerConfig`
(re-exported here), where each default is defined once.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from callcenter.core.listening import EndpointerConfig as EndpointerConfig


@dataclass(frozen=True)
class VoiceOnset:
    """Voice for ``barge_in_confirm_ms``: enough to stop a prompt (a click is
    not), too little to call it an utterance; SpeechStarted may follow."""

    onset_ms: int
    at_ms: int


@dataclass(frozen=True)
class SpeechStarted:
    """Speech confirmed (long enough not to be a click): the barge-in signal.

    `onset_ms` is the stream time the speech began, `at_ms` when it was
    confirmed.
    """

    onset_ms: int
    at_ms: int


@dataclass(frozen=True)
class UtteranceEnded:
    """An utterance is complete; `audio` includes the pre-roll before the onset."""

    audio: bytes = field(repr=False)
    onset_ms: int
    at_ms: int
    speech_ms: int
    reason: Literal["silence", "max_length"] = "silence"


@dataclass(frozen=True)
class MaxLengthReached(UtteranceEnded):
    """An utterance cut at ``max_utterance_ms``; the caller may still be talking."""

    reason: Literal["silence", "max_length"] = "max_length"


@dataclass(frozen=True)
class NoInput:
    """No confirmed speech within ``no_input_timeout_ms`` of :meth:`Endpointer.arm`."""

    at_ms: int
    waited_ms: int


EndpointEvent = VoiceOnset | SpeechStarted | UtteranceEnded | NoInput


class Endpointer:
    """Turns voiced/unvoiced frames of one call into utterance events.

    Frames are all `frame_ms` long (10, 20 or 30 ms for webrtcvad). After an
    utterance ends, a new one needs a fresh onset, also when it was cut at
    the maximum length.
    """

    def __init__(self, config: EndpointerConfig | None = None, *, frame_ms: int = 20) -> None:
        if frame_ms <= 0:
            raise ValueError("frame_ms must be positive")
        self.frame_ms = frame_ms
        self.config = config or EndpointerConfig()
        self._now_ms = 0
        self._recent: deque[tuple[bool, bytes]] = deque(maxlen=self._ring_frames())
        self._onset_reported = False
        self._armed_at: int | None = None
        self._hint: bool | None = None
        self._open = False
        self._confirmed = False
        self._audio: list[bytes] = []
        self._voiced_frames = 0
        self._silence_frames = 0
        self._onset_ms = 0

    # -- owner controls -------------------------------------------------

    def reconfigure(self, config: EndpointerConfig) -> None:
        """Use `config` from the next frame on; an open utterance continues."""
        self.config = config
        ring = self._ring_frames()
        if ring != self._recent.maxlen:
            self._recent = deque(self._recent, maxlen=ring)

    def arm(self) -> None:
        """Start the no-input timer (a new turn); a later call restarts it.

        Speech already confirmed is this turn's input: no timer then.
        """
        self._armed_at = None if self.confirmed else self._now_ms

    def disarm(self) -> None:
        """Stop the no-input timer without an event."""
        self._armed_at = None

    def set_complete_hint(self, complete: bool | None) -> None:
        """Say whether the open utterance looks finished (None: use the heuristic).

        The hint applies to the open utterance only; each new one starts
        without a hint.
        """
        self._hint = complete

    # -- state the owner may read -----------------------------------------

    @property
    def now_ms(self) -> int:
        """Stream time: milliseconds of audio pushed so far."""
        return self._now_ms

    @property
    def in_utterance(self) -> bool:
        return self._open

    @property
    def voice_active(self) -> bool:
        """True while the caller's voice is on: an onset reported (the
        barge-in signal) and not yet followed by a silent start window, or
        an utterance open."""
        return self._open or self._onset_reported

    @property
    def confirmed(self) -> bool:
        """True once the open utterance has been reported as SpeechStarted."""
        return self._open and self._confirmed

    @property
    def utterance_audio(self) -> bytes:
        """The open utterance's audio so far (empty when none is open)."""
        return b"".join(self._audio) if self._open else b""

    @property
    def utterance_ms(self) -> int:
        return len(self._audio) * self.frame_ms if self._open else 0

    @property
    def speech_ms(self) -> int:
        """Voiced time of the open utterance so far (pauses left out)."""
        return self._voiced_frames * self.frame_ms if self._open else 0

    @property
    def trailing_silence_ms(self) -> int:
        return self._silence_frames * self.frame_ms if self._open else 0

    @property
    def end_silence_ms(self) -> int:
        """The end silence that currently applies (the adaptive part)."""
        cfg = self.config
        complete = self._hint
        if complete is None:
            complete = self._voiced_frames * self.frame_ms < cfg.short_answer_ms
        return cfg.end_silence_ms_complete if complete else cfg.end_silence_ms_incomplete

    # -- the frame loop ----------------------------------------------------

    def push(self, voiced: bool, frame: bytes) -> list[EndpointEvent]:
        """Account for one frame; return the events it caused (often none)."""
        self._now_ms += self.frame_ms
        events: list[EndpointEvent] = []
        if self._open:
            self._continue_utterance(voiced, frame, events)
        else:
            self._watch_onset(voiced, frame, events)
        self._check_no_input(events)
        return events

    def _watch_onset(self, voiced: bool, frame: bytes, events: list[EndpointEvent]) -> None:
        recent = self._recent
        recent.append((voiced, frame))
        frames = list(recent)
        window = frames[-self._frames(self.config.start_window_ms):]
        voiced_in_window = sum(v for v, _ in window)
        if not voiced_in_window:
            self._onset_reported = False
        if not voiced:
            return
        first_voiced = len(frames) - len(window) + next(i for i, (v, _) in enumerate(window) if v)
        if (not self._onset_reported
                and voiced_in_window * self.frame_ms >= self.config.barge_in_confirm_ms):
            self._onset_reported = True
            onset_ms = self._now_ms - (len(frames) - first_voiced) * self.frame_ms
            events.append(VoiceOnset(onset_ms=onset_ms, at_ms=self._now_ms))
        if voiced_in_window * self.frame_ms < self.config.start_ms:
            return
        start = max(0, first_voiced - self._preroll_frames())
        self._open = True
        self._audio = [f for _, f in frames[start:]]
        self._voiced_frames = voiced_in_window
        self._onset_ms = self._now_ms - (len(frames) - first_voiced) * self.frame_ms
        self._silence_frames = 0
        recent.clear()
        self._hint = None
        self._maybe_confirm(events)

    def _continue_utterance(self, voiced: bool, frame: bytes,
                            events: list[EndpointEvent]) -> None:
        self._audio.append(frame)
        if voiced:
            self._voiced_frames += 1
            self._silence_frames = 0
        else:
            self._silence_frames += 1
        self._maybe_confirm(events)
        cfg = self.config
        if self.utterance_ms >= cfg.max_utterance_ms:
            self._end(events, max_length=True)
        elif self._silence_frames * self.frame_ms >= self.end_silence_ms:
            self._end(events, max_length=False)

    def _maybe_confirm(self, events: list[EndpointEvent]) -> None:
        if self._confirmed:
            return
        cfg = self.config
        if self._voiced_frames * self.frame_ms >= cfg.min_speech_ms:
            self._confirmed = True
            self._armed_at = None
            events.append(SpeechStarted(onset_ms=self._onset_ms, at_ms=self._now_ms))

    def _end(self, events: list[EndpointEvent], *, max_length: bool) -> None:
        if self._confirmed:
            kind = MaxLengthReached if max_length else UtteranceEnded
            events.append(kind(audio=b"".join(self._audio), onset_ms=self._onset_ms,
                               at_ms=self._now_ms,
                               speech_ms=self._voiced_frames * self.frame_ms))
        self._open = False
        self._confirmed = False
        self._audio = []
        if not max_length:
            self._onset_reported = False  # ended by silence: the voice has stopped

    def _check_no_input(self, events: list[EndpointEvent]) -> None:
        timeout = self.config.no_input_timeout_ms
        if self._armed_at is None or timeout is None or self._open:
            return  # an unconfirmed onset defers the timeout until it resolves
        waited = self._now_ms - self._armed_at
        if waited >= timeout:
            self._armed_at = None
            events.append(NoInput(at_ms=self._now_ms, waited_ms=waited))

    def _frames(self, ms: int) -> int:
        return max(1, -(-ms // self.frame_ms))

    def _preroll_frames(self) -> int:
        return -(-self.config.preroll_ms // self.frame_ms)

    def _ring_frames(self) -> int:
        return self._frames(self.config.start_window_ms) + self._preroll_frames()


_CONTINUATIONS = frozenset({
    "a", "an", "and", "are", "at", "because", "but", "by", "for", "from", "in", "is", "my",
    "of", "on", "or", "than", "the", "to", "uh", "um", "was", "with",
})
_WORD = re.compile(r"[a-z']+")


def looks_complete(text: str) -> bool:
    """Guess whether a partial transcript is a finished answer.

    Complete: it ends in sentence punctuation (Whisper adds it when the
    audio sounds finished): a question or exclamation always, a statement
    when its last word does not ask for more ("my", "and", "the", "um").
    Empty text is not complete.
    """
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…")) or stripped[-1] not in ".?!":
        return False
    words = _WORD.findall(stripped.lower())
    if stripped[-1] in "?!":
        return bool(words)
    return bool(words) and words[-1] not in _CONTINUATIONS


def trails_off(text: str) -> bool:
    """True when a transcript stops on a word that asks for more ("my",
    "and", "the", "um"), with or without a trailing comma or full stop.

    A question or exclamation never trails off; empty text does not either
    (it says nothing either way).
    """
    stripped = text.strip()
    if not stripped or stripped[-1] in "?!":
        return False
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] in _CONTINUATIONS
