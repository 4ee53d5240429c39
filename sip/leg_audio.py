"""The audio of one call leg in pjsua's conference bridge.

This is the one place that knows how legs meet the bridge. Everything here
runs on the SIP thread, except the port callbacks, which run on pjmedia's
clock thread and only copy bytes and hand them off.

Per leg, two ctypes media ports (:mod:`sip.media_port`) join the bridge next
to the call's own stream slot:

- the *engine port* receives the caller's voice (channel 1 of the recording,
  and the frames asyncio listens to) and sends the engine's audio;
- the *heard tap* receives exactly what is sent to the caller: the bridge
  mixes for it the same sources it mixes for the call (channel 2). A leg
  that is not recorded leaves its tap inactive (no up-call at all).

``a.hear(b)`` routes leg b's voice to leg a (and to a's tap); ``a.hear_slot``
does the same for any bridge slot (a looping hold-music player, say).
Bridging, listen-only, whisper and barge are compositions of it.

Ports are never removed while the bridge runs. pjmedia removes a conference
port asynchronously, on its clock thread, so freeing a port's memory could
pull it from under the clock (seen with pjsua2's ports: aborts and
segfaults under load). Instead a :class:`PortPool` keeps released ports,
inactive and silent, and rebinds them to the next leg; the pool is bounded
by the node's peak of concurrent legs, and its memory lives until the
endpoint is destroyed.
"""

from __future__ import annotations

from typing import Protocol

from sip.audio_buffers import FrameInbox, FrameOutbox
from sip.media_port import MediaPort, conf_connect, conf_disconnect, create_pool

FRAME_MS = 20


class RecordingSink(Protocol):
    """Where a leg's two recording channels go (see :mod:`sip.recording`)."""

    def add_caller(self, frame: bytes) -> None: ...

    def add_heard(self, frame: bytes) -> None: ...


def frame_bytes(clock_rate: int) -> int:
    """Bytes in one 20 ms mono PCM16 frame at `clock_rate`."""
    return clock_rate * FRAME_MS // 1000 * 2


class _EnginePort:
    """Caller voice in (to asyncio and channel 1), engine audio out."""

    def __init__(self, port: MediaPort) -> None:
        self.port = port
        self._silence = bytes(port.frame_bytes)
        self.leg: LegAudio | None = None

    def bind(self, leg: LegAudio | None) -> None:
        self.leg = leg
        self.port.sink = self._received if leg is not None else None
        self.port.source = leg.outbox.pull if leg is not None else None
        self.port.active = leg is not None

    def _received(self, data: bytes | None) -> None:
        leg = self.leg
        if leg is None:
            return
        frame = data or self._silence
        leg.inbox.put(frame)
        recording = leg.recording
        if recording is not None:
            recording.add_caller(frame)


class _HeardTap:
    """Everything the caller hears, mixed by the bridge (channel 2)."""

    def __init__(self, port: MediaPort) -> None:
        self.port = port
        self._silence = bytes(port.frame_bytes)
        self.leg: LegAudio | None = None

    def bind(self, leg: LegAudio | None) -> None:
        self.leg = leg
        recording = leg.recording if leg is not None else None
        self.port.sink = self._received if recording is not None else None
        self.port.active = recording is not None

    def _received(self, data: bytes | None) -> None:
        leg = self.leg
        recording = leg.recording if leg is not None else None
        if recording is not None:
            recording.add_heard(data or self._silence)


class PortPool:
    """Media ports kept for reuse, per clock rate (SIP thread only)."""

    def __init__(self) -> None:
        self._idle: dict[int, list[tuple[_EnginePort, _HeardTap]]] = {}
        self._all: list[tuple[_EnginePort, _HeardTap]] = []
        self._bridge_pool: int | None = None

    def acquire(self, leg: LegAudio) -> tuple[_EnginePort, _HeardTap]:
        """A port pair bound to `leg`, reused if one is idle at its rate."""
        idle = self._idle.setdefault(leg.clock_rate, [])
        if idle:
            pair = idle.pop()
        else:
            if self._bridge_pool is None:
                self._bridge_pool = create_pool("legports")
            n = len(self._all)
            engine = MediaPort(f"engine{n}", leg.clock_rate, FRAME_MS)
            tap = MediaPort(f"heard{n}", leg.clock_rate, FRAME_MS)
            engine.active = tap.active = False
            engine.add_to_bridge(self._bridge_pool)
            tap.add_to_bridge(self._bridge_pool)
            pair = (_EnginePort(engine), _HeardTap(tap))
            self._all.append(pair)
        pair[0].bind(leg)
        pair[1].bind(leg)
        return pair

    def release(self, pair: tuple[_EnginePort, _HeardTap], clock_rate: int) -> None:
        """Unbind a pair (it goes silent at once) and keep it for the next leg."""
        pair[0].bind(None)
        pair[1].bind(None)
        self._idle.setdefault(clock_rate, []).append(pair)

    @property
    def size(self) -> int:
        return len(self._all)

    def destroy(self) -> list[object]:
        """Unbind every port once the conference clock has stopped; returns
        the objects that must stay referenced until ``libDestroy``."""
        for engine, tap in self._all:
            engine.bind(None)
            tap.bind(None)
        keep: list[object] = list(self._all)
        self._idle.clear()
        self._all.clear()
        return keep


class LegAudio:
    """Ports and routes of one leg; create, attach and detach on the SIP thread."""

    def __init__(self, pool: PortPool, clock_rate: int, inbox: FrameInbox,
                 outbox: FrameOutbox) -> None:
        self.pool = pool
        self.clock_rate = clock_rate
        self.frame_bytes = frame_bytes(clock_rate)
        self.inbox = inbox
        self.outbox = outbox
        self._recording: RecordingSink | None = None
        self._stream: int | None = None  # the call's own bridge slot
        self._engine: _EnginePort | None = None
        self._tap: _HeardTap | None = None
        self._hearing: set[LegAudio] = set()  # legs whose voice this leg hears
        self._hearing_slots: set[int] = set()  # other sources (players)

    @property
    def recording(self) -> RecordingSink | None:
        return self._recording

    @recording.setter
    def recording(self, sink: RecordingSink | None) -> None:
        self._recording = sink
        if self._tap is not None:
            self._tap.bind(self)

    @property
    def attached(self) -> bool:
        return self._stream is not None

    @property
    def stream_slot(self) -> int | None:
        """The call's own slot in the bridge (None before media is up)."""
        return self._stream

    def attach(self, stream_slot: int) -> None:
        """Join the bridge with the call's audio stream, bridge slot `stream_slot`."""
        if self._engine is None:
            self._engine, self._tap = self.pool.acquire(self)
        if self._stream is not None:  # re-attach after re-INVITE: routes move
            self._unroute_stream()
        self._stream = stream_slot
        assert self._tap is not None
        engine, tap = self._engine.port.slot, self._tap.port.slot
        conf_connect(stream_slot, engine)
        conf_connect(engine, stream_slot)
        conf_connect(engine, tap)
        for other in self._hearing:
            if other._stream is not None:
                conf_connect(other._stream, stream_slot)
                conf_connect(other._stream, tap)
        for slot in self._hearing_slots:
            conf_connect(slot, stream_slot)
            conf_connect(slot, tap)

    def hear(self, other: LegAudio) -> None:
        """Route `other`'s caller voice to this leg (and its recording)."""
        if other is self or other in self._hearing:
            return
        self._hearing.add(other)
        if self._stream is not None and other._stream is not None:
            self._connect_source(other._stream)

    def stop_hearing(self, other: LegAudio) -> None:
        """Undo :meth:`hear`."""
        if other not in self._hearing:
            return
        self._hearing.discard(other)
        if self._stream is not None and other._stream is not None:
            self._disconnect_source(other._stream)

    def hear_slot(self, slot: int) -> None:
        """Route any bridge source (a WAV player, say) to this leg and its tap."""
        if slot in self._hearing_slots:
            return
        self._hearing_slots.add(slot)
        if self._stream is not None:
            self._connect_source(slot)

    def stop_hearing_slot(self, slot: int) -> None:
        """Undo :meth:`hear_slot`."""
        if slot not in self._hearing_slots:
            return
        self._hearing_slots.discard(slot)
        if self._stream is not None:
            self._disconnect_source(slot)

    @property
    def hearing(self) -> frozenset[LegAudio]:
        return frozenset(self._hearing)

    @property
    def heard_slots(self) -> frozenset[int]:
        """Bridge sources routed with :meth:`hear_slot`."""
        return frozenset(self._hearing_slots)

    def detach(self, others: list[LegAudio]) -> None:
        """Leave the bridge: drop every route to and from this leg, release its
        ports to the pool."""
        for other in others:
            if self in other._hearing:
                other.stop_hearing(self)
        for other in list(self._hearing):
            self.stop_hearing(other)
        for slot in list(self._hearing_slots):
            self.stop_hearing_slot(slot)
        self._unroute_stream()
        self._stream = None
        if self._engine is not None and self._tap is not None:
            conf_disconnect(self._engine.port.slot, self._tap.port.slot)
            self.pool.release((self._engine, self._tap), self.clock_rate)
        self._engine = None
        self._tap = None

    def _connect_source(self, source: int) -> None:
        assert self._stream is not None and self._tap is not None
        conf_connect(source, self._stream)
        conf_connect(source, self._tap.port.slot)

    def _disconnect_source(self, source: int) -> None:
        assert self._stream is not None and self._tap is not None
        conf_disconnect(source, self._stream)
        conf_disconnect(source, self._tap.port.slot)

    def _unroute_stream(self) -> None:
        if self._stream is None or self._engine is None:
            return
        conf_disconnect(self._stream, self._engine.port.slot)
        conf_disconnect(self._engine.port.slot, self._stream)
