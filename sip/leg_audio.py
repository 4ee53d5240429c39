"""The audio of one call leg in pjsua2's conference bridge.

This is the one place that knows how pjsua2 moves audio, so a denser media
path (a ctypes media port, a self-built pjproject) can replace it later
without touching the rest of the package. Everything here runs on the SIP
thread, except the two port callbacks, which run on pjmedia's clock thread
and only copy bytes and hand them off.

Per leg, two ports join the bridge next to the call's own stream:

- the *engine port* receives the caller's voice (channel 1 of the recording,
  and the frames asyncio listens to) and sends the engine's audio;
- the *heard tap* receives exactly what is sent to the caller: the bridge
  mixes for it the same sources it mixes for the call (channel 2).

``a.hear(b)`` routes leg b's voice to leg a (and to a's tap). Bridging,
listen-only, whisper and barge are compositions of it.

Ports are never deleted while the bridge runs. pjmedia removes a conference
port asynchronously, on its clock thread, so deleting the Python object
frees memory the clock may still be calling into (seen: aborts and
segfaults under load). Instead a :class:`PortPool` keeps released ports,
unbound and silent, and rebinds them to the next leg; the pool is bounded by
the node's peak of concurrent legs, and emptied only after the clock stops.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import pjsua2 as pj

from sip.audio_buffers import FrameInbox, FrameOutbox
from sip.frame_io import FrameIO

FRAME_MS = 20


class RecordingSink(Protocol):
    """Where a leg's two recording channels go (see :mod:`sip.recording`)."""

    def add_caller(self, frame: bytes) -> None: ...

    def add_heard(self, frame: bytes) -> None: ...


def frame_bytes(clock_rate: int) -> int:
    """Bytes in one 20 ms mono PCM16 frame at `clock_rate`."""
    return clock_rate * FRAME_MS // 1000 * 2


class _EnginePort(pj.AudioMediaPort):  # type: ignore[misc]
    """Caller voice in (to asyncio and channel 1), engine audio out."""

    def __init__(self, io: FrameIO, clock_rate: int) -> None:
        super().__init__()
        self._io = io
        self._silence = bytes(frame_bytes(clock_rate))
        self.leg: LegAudio | None = None  # rebound by the pool; None = idle

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 (pjsua2 name)
        leg = self.leg
        if leg is None:
            return
        data = self._io.read(frame) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
        if len(data) != len(self._silence):
            data = self._silence
        leg.inbox.put(data)
        recording = leg.recording
        if recording is not None:
            recording.add_caller(data)

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
        leg = self.leg
        self._io.write(frame, leg.outbox.pull() if leg is not None else self._silence)


class _HeardTap(pj.AudioMediaPort):  # type: ignore[misc]
    """Everything the caller hears, mixed by the bridge (channel 2)."""

    def __init__(self, io: FrameIO, clock_rate: int) -> None:
        super().__init__()
        self._io = io
        self._silence = bytes(frame_bytes(clock_rate))
        self.leg: LegAudio | None = None

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
        leg = self.leg
        recording = leg.recording if leg is not None else None
        if recording is None:
            return
        data = self._io.read(frame) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
        recording.add_heard(data if len(data) == len(self._silence) else self._silence)

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
        self._io.write(frame, self._silence)


class PortPool:
    """Media ports kept for reuse, per clock rate (SIP thread only)."""

    def __init__(self, io: FrameIO) -> None:
        self.io = io
        self._idle: dict[int, list[tuple[_EnginePort, _HeardTap]]] = {}
        self._all: list[tuple[_EnginePort, _HeardTap]] = []

    def acquire(self, leg: LegAudio) -> tuple[_EnginePort, _HeardTap]:
        """A port pair bound to `leg`, reused if one is idle at its rate."""
        idle = self._idle.setdefault(leg.clock_rate, [])
        if idle:
            pair = idle.pop()
        else:
            fmt = pj.MediaFormatAudio()
            fmt.init(pj.PJMEDIA_FORMAT_PCM, leg.clock_rate, 1, FRAME_MS * 1000, 16)
            pair = (_EnginePort(self.io, leg.clock_rate), _HeardTap(self.io, leg.clock_rate))
            n = len(self._all)
            pair[0].createPort(f"engine{n}", fmt)
            pair[1].createPort(f"heard{n}", fmt)
            self._all.append(pair)
        pair[0].leg = pair[1].leg = leg
        return pair

    def release(self, pair: tuple[_EnginePort, _HeardTap], clock_rate: int) -> None:
        """Unbind a pair (it goes silent at once) and keep it for the next leg."""
        pair[0].leg = pair[1].leg = None
        self._idle.setdefault(clock_rate, []).append(pair)

    @property
    def size(self) -> int:
        return len(self._all)

    def destroy(self) -> None:
        """Delete every port; only once the conference clock has stopped."""
        for engine, tap in self._all:
            engine.leg = tap.leg = None
        self._idle.clear()
        self._all.clear()


class LegAudio:
    """Ports and routes of one leg; create, attach and detach on the SIP thread."""

    def __init__(self, pool: PortPool, clock_rate: int, inbox: FrameInbox,
                 outbox: FrameOutbox) -> None:
        self.pool = pool
        self.clock_rate = clock_rate
        self.frame_bytes = frame_bytes(clock_rate)
        self.inbox = inbox
        self.outbox = outbox
        self.recording: RecordingSink | None = None
        self._stream: Any = None
        self._engine: _EnginePort | None = None
        self._tap: _HeardTap | None = None
        self._hearing: set[LegAudio] = set()  # legs whose voice this leg hears

    @property
    def attached(self) -> bool:
        return self._stream is not None

    def attach(self, stream: Any) -> None:
        """Join the bridge with the call's audio `stream` (a pjsua2 AudioMedia)."""
        if self._engine is None:
            self._engine, self._tap = self.pool.acquire(self)
        if self._stream is not None:  # re-attach after re-INVITE: routes move
            self._unroute_stream()
        self._stream = stream
        assert self._tap is not None
        stream.startTransmit(self._engine)
        self._engine.startTransmit(stream)
        self._engine.startTransmit(self._tap)
        for other in self._hearing:
            if other._stream is not None:
                other._stream.startTransmit(stream)
                other._stream.startTransmit(self._tap)

    def hear(self, other: LegAudio) -> None:
        """Route `other`'s caller voice to this leg (and its recording)."""
        if other is self or other in self._hearing:
            return
        self._hearing.add(other)
        if self._stream is not None and other._stream is not None:
            other._stream.startTransmit(self._stream)
            other._stream.startTransmit(self._tap)

    def stop_hearing(self, other: LegAudio) -> None:
        """Undo :meth:`hear`."""
        if other not in self._hearing:
            return
        self._hearing.discard(other)
        if self._stream is not None and other._stream is not None:
            _stop(other._stream, self._stream)
            _stop(other._stream, self._tap)

    @property
    def hearing(self) -> frozenset[LegAudio]:
        return frozenset(self._hearing)

    def detach(self, others: list[LegAudio]) -> None:
        """Leave the bridge: drop every route to and from this leg, release its
        ports to the pool."""
        for other in others:
            if self in other._hearing:
                other.stop_hearing(self)
        for other in list(self._hearing):
            self.stop_hearing(other)
        self._unroute_stream()
        self._stream = None
        if self._engine is not None and self._tap is not None:
            _stop(self._engine, self._tap)
            self.pool.release((self._engine, self._tap), self.clock_rate)
        self._engine = None
        self._tap = None

    def _unroute_stream(self) -> None:
        if self._stream is None or self._engine is None:
            return
        _stop(self._stream, self._engine)
        _stop(self._engine, self._stream)


def _stop(source: Any, sink: Any) -> None:
    with contextlib.suppress(pj.Error):  # the stream may be gone already
        source.stopTransmit(sink)
