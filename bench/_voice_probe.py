"""Run the ``callcenter`` CLI with timing probes on the voice path (bench helper).

``python bench/_voice_probe.py serve ...`` behaves like ``python -m callcenter
serve ...``; it wraps (at class level, nothing in the product changes) the
steps of a conversational turn and writes one stderr line per step::

    vprobe {"ev": "utt_end", "call": "1a2b3c4d", "rtp": 43000, "t": 1763..., ...}

All times are ``time.time()`` (CLOCK_REALTIME, comparable with the kernel's
packet stamps in bench/_rtp_energy.py). ``rtp`` is the caller's RTP port as
the engine sees it (``call.media.remote_rtp``), which ties the lines to the
streams captured on the wire. Events:

- ``conv``: a conversation started on a call.
- ``voice_onset`` (if the product has ``asr.stream.VoiceOnset``, the fast
  barge-in signal) and ``speech_started`` (an utterance confirmed);
  ``onset_rx`` is when the engine's listener got the first loud frame of it.
- ``partial_req`` / ``partial`` / ``partial_done``: a partial recognition was
  asked for / was emitted (``compute_s``, ``text``) / finished, used or not
  (one that comes back after its utterance ended is dropped unseen by the
  product).
- ``speculate`` / ``speculated``: the final was decoded at a pause of the
  caller (``asr.stream``'s speculative final) / came back (``hint``: whether
  it read as a finished answer; ``voided``: the caller spoke again first).
- ``utt_end``: the endpointer ended the utterance; ``last_loud_rx`` is when the
  last loud frame reached the listener, ``end_silence_ms`` the end silence
  that applied, ``hint`` the complete/incomplete hint in force,
  ``max_feed_gap_ms`` the longest wait between two frames reaching the
  listener since the previous ``utt_end`` (20 ms when the loop keeps up).
- ``final``: the final transcript was emitted (``compute_s`` in Whisper,
  ``latency_s`` from ``utt_end``, so the difference waited for a worker).
- ``barge``: the conversation stopped the engine's audio.
- ``say``: one prompt: ``t`` (say() entered), ``first_play`` (first sentence
  ready and queued), ``first_pull`` (the media clock took its first frame),
  ``last_audio_pull`` (the last frame with audio it took), ``end``.

A frame is "loud" when its PCM16 RMS exceeds ``VPROBE_LOUD_RMS`` (default
300, the threshold the benchmarks use on the wire). The probes cost a numpy
RMS per received frame and a clock read per sent frame.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import Any

import _common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np

import asr.stream
from asr.stream import Final, Partial, SpeechStarted, UtteranceStream
from callcenter.conversation import CallConversation
from sip.audio_buffers import FrameOutbox
from sip.call import SipCall

LOUD_RMS = float(os.environ.get("VPROBE_LOUD_RMS", "300"))
QUIET_GAP_S = 0.4  # a loud frame after this much quiet starts a new stretch
# The fast barge-in event, where the product has one (it changes under us).
VoiceOnset: type | None = getattr(asr.stream, "VoiceOnset", None)


def _out(record: dict[str, Any]) -> None:
    sys.stderr.write("vprobe " + json.dumps(record) + "\n")
    sys.stderr.flush()


def _tag(stream: Any) -> dict[str, Any]:
    probe = getattr(stream, "_pr", None)
    return dict(probe["tag"]) if probe else {"call": None, "rtp": None}


# -- listening --------------------------------------------------------------
_feed = UtteranceStream.feed


@functools.wraps(_feed)
def feed(self: UtteranceStream, frame: bytes) -> None:
    probe = getattr(self, "_pr", None)
    if probe is not None:
        now = time.time()
        if probe["last_feed"] is not None:
            probe["max_gap"] = max(probe["max_gap"], now - probe["last_feed"])
        probe["last_feed"] = now
        samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.float32)
        if samples.size and float(np.sqrt(np.mean(samples * samples))) > LOUD_RMS:
            if probe["last_loud"] is None or now - probe["last_loud"] > QUIET_GAP_S:
                probe["onset_rx"] = now
            probe["last_loud"] = now
    _feed(self, frame)


_emit = UtteranceStream._emit


@functools.wraps(_emit)
def emit(self: UtteranceStream, event: Any) -> None:
    probe = getattr(self, "_pr", None)
    if probe is not None:
        now = time.time()
        if VoiceOnset is not None and isinstance(event, VoiceOnset):
            _out({"ev": "voice_onset", **probe["tag"], "t": now,
                  "onset_rx": probe["onset_rx"], "onset_ms": getattr(event, "onset_ms", None),
                  "at_ms": getattr(event, "at_ms", None)})
        elif isinstance(event, SpeechStarted):
            _out({"ev": "speech_started", **probe["tag"], "t": now,
                  "onset_rx": probe["onset_rx"], "onset_ms": event.onset_ms,
                  "at_ms": event.at_ms})
        elif isinstance(event, Final):
            tr = event.transcript
            _out({"ev": "final", **probe["tag"], "t": now, "latency_s": event.latency_s,
                  "compute_s": tr.compute_seconds, "text": tr.text,
                  "confidence": tr.confidence, "audio_s": event.audio_seconds,
                  "speech_ms": event.speech_ms, "reason": event.reason})
        elif isinstance(event, Partial):
            _out({"ev": "partial", **probe["tag"], "t": now,
                  "compute_s": event.transcript.compute_seconds,
                  "audio_s": event.transcript.audio_seconds, "text": event.transcript.text})
    _emit(self, event)


_request_partial = UtteranceStream._request_partial


@functools.wraps(_request_partial)
def request_partial(self: UtteranceStream) -> None:
    probe = getattr(self, "_pr", None)
    if probe is not None:
        ep = self._endpointer
        _out({"ev": "partial_req", **probe["tag"], "t": time.time(),
              "utterance_ms": ep.utterance_ms,
              "pause": ep.trailing_silence_ms >= self._pause_probe_ms})
    _request_partial(self)


_speculate = UtteranceStream._speculate


@functools.wraps(_speculate)
def speculate(self: UtteranceStream) -> None:
    probe = getattr(self, "_pr", None)
    if probe is not None:
        _out({"ev": "speculate", **probe["tag"], "t": time.time(),
              "utterance_ms": self._endpointer.utterance_ms})
    _speculate(self)


_speculated = UtteranceStream._speculated


@functools.wraps(_speculated)
def speculated(self: UtteranceStream, speculation: Any) -> None:
    probe = getattr(self, "_pr", None)
    _speculated(self, speculation)
    if probe is not None:
        _out({"ev": "speculated", **probe["tag"], "t": time.time(),
              "voided": speculation is not self._speculation,
              "hint": self._endpointer._hint})


_judged = UtteranceStream._judged


@functools.wraps(_judged)
def judged(self: UtteranceStream, speculation: Any, task: Any) -> None:
    probe = getattr(self, "_pr", None)
    _judged(self, speculation, task)
    if probe is not None:
        _out({"ev": "judged", **probe["tag"], "t": time.time(),
              "voided": speculation is not self._speculation,
              "p": speculation.probability, "hint": self._endpointer._hint})


_partial = UtteranceStream._partial


@functools.wraps(_partial)
async def partial(self: UtteranceStream, *args: Any, **kwargs: Any) -> None:
    started = time.time()
    try:
        await _partial(self, *args, **kwargs)
    finally:
        probe = getattr(self, "_pr", None)
        if probe is not None:
            _out({"ev": "partial_done", **probe["tag"], "t": time.time(), "started": started})


_end_utterance = UtteranceStream._end_utterance


@functools.wraps(_end_utterance)
def end_utterance(self: UtteranceStream, event: Any) -> None:
    probe = getattr(self, "_pr", None)
    if probe is not None:
        ep = self._endpointer
        _out({"ev": "utt_end", **probe["tag"], "t": time.time(),
              "last_loud_rx": probe["last_loud"], "onset_rx": probe["onset_rx"],
              "end_silence_ms": ep.end_silence_ms, "hint": ep._hint,
              "hint_from_partial": self._partial_hint, "speech_ms": event.speech_ms,
              "audio_ms": round(len(event.audio) / 2 / self.rate * 1000),
              "onset_ms": event.onset_ms, "at_ms": event.at_ms,
              "max_length": type(event).__name__ != "UtteranceEnded",
              "max_feed_gap_ms": round(probe["max_gap"] * 1000, 1)})
        probe["max_gap"] = 0.0
    _end_utterance(self, event)


# -- speaking ----------------------------------------------------------------
_init = CallConversation.__init__


@functools.wraps(_init)
def init(self: CallConversation, call: SipCall, *args: Any, **kwargs: Any) -> None:
    _init(self, call, *args, **kwargs)
    try:
        rtp = int(str(call.media.remote_rtp).rsplit(":", 1)[1]) if call.media else None
    except (ValueError, IndexError):
        rtp = None
    tag = {"call": call.id[:8], "rtp": rtp}
    self.stream._pr = {"tag": tag, "last_loud": None, "onset_rx": None,
                       "last_feed": None, "max_gap": 0.0}  # type: ignore[attr-defined]
    if call.leg is not None:
        call.leg.outbox._pr = {"armed": False, "first_pull": None,  # type: ignore[attr-defined]
                               "last_audio_pull": None}
    _out({"ev": "conv", **tag, "t": time.time(), "remote_rtp": str(call.media.remote_rtp)
          if call.media else None})


_say = CallConversation.say


@functools.wraps(_say)
async def say(self: CallConversation, text: str, *, barge_in: bool) -> None:
    started = time.time()
    outbox = self.call.leg.outbox if self.call.leg is not None else None
    probe = getattr(outbox, "_pr", None)
    if probe is not None:
        probe.update(armed=True, first_pull=None, last_audio_pull=None)
    self.call._pr_play = {"first": None, "first_s": None}  # type: ignore[attr-defined]
    try:
        await _say(self, text, barge_in=barge_in)
    finally:
        play = self.call._pr_play  # type: ignore[attr-defined]
        self.call._pr_play = None  # type: ignore[attr-defined]
        _out({"ev": "say", **_tag(self.stream), "t": started, "end": time.time(),
              "first_play": play["first"], "first_chunk_s": play["first_s"],
              "first_pull": probe["first_pull"] if probe else None,
              "last_audio_pull": probe["last_audio_pull"] if probe else None,
              "barge_in": barge_in, "barged": self._barged.is_set(), "text": text[:60]})
        if probe is not None:
            probe["armed"] = False


_play = SipCall.play


@functools.wraps(_play)
def play(self: SipCall, pcm: bytes) -> Any:
    marks = getattr(self, "_pr_play", None)
    if marks is not None and marks["first"] is None:
        marks["first"] = time.time()
        rate = self.media.clock_rate if self.media else 8000
        marks["first_s"] = round(len(pcm) / 2 / rate, 3)
    return _play(self, pcm)


_barge = CallConversation._barge_in


@functools.wraps(_barge)
def barge_in(self: CallConversation, why: str) -> None:
    now = time.time()
    _barge(self, why)
    probe = getattr(self.stream, "_pr", None)
    _out({"ev": "barge", **_tag(self.stream), "t": now, "why": why,
          "onset_rx": probe["onset_rx"] if probe else None})


_pull = FrameOutbox.pull


@functools.wraps(_pull)
def pull(self: FrameOutbox) -> bytes:
    probe = getattr(self, "_pr", None)
    if probe is not None and self._segments:
        now = time.time()
        if probe["armed"] and probe["first_pull"] is None:
            probe["first_pull"] = now
        probe["last_audio_pull"] = now
    return _pull(self)


# Experiment knob (not a product setting): VPROBE_JB="init,min_pre,max_pre,max"
# in ms (-1 = pjmedia's default) sets the jitter buffer of every stream, by
# patching the endpoint's media config as libInit receives it.
_JB = os.environ.get("VPROBE_JB", "")
if _JB:
    import pjsua2 as pj

    _lib_init = pj.Endpoint.libInit

    def lib_init(self: Any, cfg: Any) -> Any:
        init, min_pre, max_pre, jb_max = (int(v) for v in _JB.split(","))
        med = cfg.medConfig
        med.jbInit, med.jbMinPre, med.jbMaxPre, med.jbMax = init, min_pre, max_pre, jb_max
        _out({"ev": "jb", "init": init, "min_pre": min_pre, "max_pre": max_pre, "max": jb_max})
        return _lib_init(self, cfg)

    pj.Endpoint.libInit = lib_init  # type: ignore[method-assign]

UtteranceStream.feed = feed  # type: ignore[method-assign]
UtteranceStream._emit = emit  # type: ignore[method-assign]
UtteranceStream._request_partial = request_partial  # type: ignore[method-assign]
UtteranceStream._partial = partial  # type: ignore[method-assign]
UtteranceStream._end_utterance = end_utterance  # type: ignore[method-assign]
UtteranceStream._speculate = speculate  # type: ignore[method-assign]
UtteranceStream._speculated = speculated  # type: ignore[method-assign]
UtteranceStream._judged = judged  # type: ignore[method-assign]
CallConversation.__init__ = init  # type: ignore[method-assign]
CallConversation.say = say  # type: ignore[method-assign]
CallConversation._barge_in = barge_in  # type: ignore[method-assign]
SipCall.play = play  # type: ignore[method-assign]
FrameOutbox.pull = pull  # type: ignore[method-assign]

from callcenter.cli import main  # noqa: E402

main(prog_name="callcenter")
