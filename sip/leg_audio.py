"""The audio of one call leg in pjsua's conference bridge.

This is the one place that knows how legs meet the bridge. Everything here
runs on the SIP thread, except :meth:`LegAudio.pump`, which the media pump
thread runs (:mod:`sip.media_pump`); pjmedia's clock thread only touches
the ports' C rings (:mod:`sip.media_port`).

Per leg, two ring ports join the bridge next to the call's own stream slot:

- the *engine port* receives the caller's voice (channel 1 of the recording,
  and the frames asyncio listens to) and sends the engine's audio;
- the *heard tap* receives exactly what is sent to the caller: the bridge
  mixes for it the same sources it mixes for the call (channel 2). A leg
  that is not recorded leaves its tap's ring disabled.

``a.hear(b)`` routes leg b's voice to leg a (and to a's tap); ``a.hear_slot``
does the same for any bridge slot (a looping hold-music player, say);
``a.hear_engine(b)`` routes what the engine sends to leg b (its bot, tones,
whispers) to leg a as well. Bridging, listen-only, whisper and barge are
compositions of these.

Ports are never removed while the bridge runs. pjmedia removes a conference
port asynchronously, on its clock thread, so freeing a port's memory could
pull it from under the clock (seen with pjsua2's ports: aborts and
segfaults under load). Instead a :class:`PortPool` keeps released ports,
inactive and silent, and rebinds them to the next leg; the pool is bounded
by the node's peak of concurrent legs, and its memory lives until the
endpoint is destroyed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sip.audio_buffers import FrameInbox, FrameOutbox
from sip.media_port import MediaPort, conf_connect, conf_disconnect, create_pool
from sip.media_pump import MediaPump

FRAME_MS = 20


class RecordingSink(Protocol):
    """Where a leg's two recording channels go (see :mod:`sip.recording`)."""

    def add_caller(self, frame: bytes) -> None: ...

    def add_heard(self, frame: bytes) -> None: ...


def frame_bytes(clock_rate: int) -> int:
    """Bytes in one 20 ms mono PCM16 frame at `clock_rate`."""
    return clock_rate * FRAME_MS // 1000 * 2


Ports = tuple[MediaPort, MediaPort]
"""A leg's engine port and heard tap."""


class PortPool:
    """Media ports kept for reuse, per clock rate (SIP thread only)."""

    def __init__(self, pump: MediaPump) -> None:
        self.pump = pump
        self._idle: dict[int, list[Ports]] = {}
        self._all: list[Ports] = []
        self._bridge_pool: int | None = None

    def acquire(self, leg: LegAudio) -> Ports:
        """A port pair for `leg`, reused if one is idle at its rate; the pump
        serves the leg from its next cycle."""
        idle = self._idle.setdefault(leg.clock_rate, [])
        if idle:
            pair = idle.pop()
        else:
            if self._bridge_pool is None:
                self._bridge_pool = create_pool("legports")
            n = len(self._all)
            pair = (MediaPort(f"engine{n}", leg.clock_rate, FRAME_MS),
                    MediaPort(f"heard{n}", leg.clock_rate, FRAME_MS))
            for port in pair:
                port.add_to_bridge(self._bridge_pool)
            self._all.append(pair)
        engine, tap = pair
        engine.read()  # whatever the last leg left behind
        tap.read()
        engine.flush_tx()
        engine.enable(rx=True, tx=True)
        tap.enable(rx=leg.recording is not None, tx=False)
        self.pump.add(leg)
        return pair

    def release(self, leg: LegAudio, pair: Ports) -> None:
        """Silence a pair at once and keep it for the next leg."""
        self.pump.remove(leg)
        for port in pair:
            port.enable(rx=False, tx=False)
        pair[0].flush_tx()
        self._idle.setdefault(leg.clock_rate, []).append(pair)

    @property
    def size(self) -> int:
        return len(self._all)

    def destroy(self) -> list[object]:
        """Disable every port once the conference clock has stopped; returns
        the objects that must stay referenced until ``libDestroy``."""
        for pair in self._all:
            for port in pair:
                port.enable(rx=False, tx=False)
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
        self._engine: MediaPort | None = None
        self._tap: MediaPort | None = None
        outbox.on_clear = self._flush_tx
        self._hearing: set[LegAudio] = set()  # legs whose voice this leg hears
        self._hearing_slots: set[int] = set()  # other sources (players)
        self._hearing_engines: set[LegAudio] = set()  # legs whose engine audio this leg hears

    @property
    def recording(self) -> RecordingSink | None:
        return self._recording

    @recording.setter
    def recording(self, sink: RecordingSink | None) -> None:
        self._recording = sink
        if self._tap is not None:
            self._tap.enable(rx=sink is not None, tx=False)

    # -- media pump thread -----------------------------------------------------
    def pump(self, tx_depth: int) -> None:
        """Move this leg's audio between its rings and Python (pump thread):
        the caller's voice to the listener and channel 1, what the caller
        heard to channel 2, and queued audio into the tx ring, `tx_depth`
        frames ahead of the clock."""
        engine, tap, recording = self._engine, self._tap, self._recording
        if engine is None:
            return
        voice = engine.read()
        if voice:
            if recording is not None:
                recording.add_caller(voice)
            if self.inbox.listening:
                step = self.frame_bytes
                for i in range(0, len(voice), step):
                    self.inbox.put(voice[i:i + step])
        if tap is not None and recording is not None:
            heard = tap.read()
            if heard:
                recording.add_heard(heard)
        if self.outbox.busy:
            room = tx_depth - engine.tx_queued
            if room > 0:
                self.outbox.feed(room, engine.write)

    @property
    def tx_queued(self) -> int:
        """Frames handed to the bridge and not yet sent (any thread; 0 when detached)."""
        engine = self._engine
        return 0 if engine is None else engine.tx_queued

    def _flush_tx(self) -> None:
        """Barge-in: what the tx ring holds stops at the next tick (any thread)."""
        engine = self._engine
        if engine is not None:
            engine.flush_tx()

    @property
    def attached(self) -> bool:
        return self._stream is not None

    @property
    def stream_slot(self) -> int | None:
        """The call's own slot in the bridge (None before media is up)."""
        return self._stream

    def attach(self, stream_slot: int, others: Iterable[LegAudio] = ()) -> None:
        """Join the bridge with the call's audio stream, bridge slot `stream_slot`.

        Called again after every re-INVITE that leaves the media active (a
        resumed hold, a codec change): pjsua 2.15 may replace the call's
        stream then, and its routes go with the old one (seen on resuming a
        hold: the same slot number, every route to and from it gone). So every
        route of the stream is made again: to and from this leg's engine port,
        from what this leg hears, and to those of `others` (every leg in the
        bridge will do) that hear this leg. Nothing is disconnected from the
        old stream: pjsua removed those routes with it, and a disconnect
        behind that removal can drop other ports' routes (see :meth:`detach`).
        """
        if self._engine is None:
            self._engine, self._tap = self.pool.acquire(self)
        self._stream = stream_slot
        assert self._tap is not None
        engine, tap = self._engine.slot, self._tap.slot
        conf_connect(stream_slot, engine)
        conf_connect(engine, stream_slot)
        conf_connect(engine, tap)
        for other in self._hearing:
            if other._stream is not None:
                self._connect_source(other._stream)
        for slot in self._hearing_slots:
            self._connect_source(slot)
        for other in self._hearing_engines:
            if other._engine is not None:
                self._connect_source(other._engine.slot)
        for other in others:
            if other is not self and self in other._hearing and other._stream is not None:
                other._connect_source(stream_slot)

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

    def hear_engine(self, other: LegAudio) -> None:
        """Route what the engine sends to `other` (its bot, tones) to this leg too."""
        if other is self or other in self._hearing_engines:
            return
        self._hearing_engines.add(other)
        if self._stream is not None and other._engine is not None:
            self._connect_source(other._engine.slot)

    def stop_hearing_engine(self, other: LegAudio) -> None:
        """Undo :meth:`hear_engine`."""
        if other not in self._hearing_engines:
            return
        self._hearing_engines.discard(other)
        if self._stream is not None and other._engine is not None:
            self._disconnect_source(other._engine.slot)

    @property
    def hearing(self) -> frozenset[LegAudio]:
        return frozenset(self._hearing)

    def hears(self, other: LegAudio) -> bool:
        """Whether this leg hears `other`'s voice now (one set lookup: any thread may ask)."""
        return other in self._hearing

    @property
    def hearing_engines(self) -> frozenset[LegAudio]:
        """Legs whose engine audio this leg hears (:meth:`hear_engine`)."""
        return frozenset(self._hearing_engines)

    @property
    def heard_slots(self) -> frozenset[int]:
        """Bridge sources routed with :meth:`hear_slot`."""
        return frozenset(self._hearing_slots)

    def detach(self, others: list[LegAudio], *, stream_removed: bool = False) -> None:
        """Leave the bridge: drop every route to and from this leg, release its
        ports to the pool.

        `stream_removed`: the call has ended and pjsua is removing its stream
        slot, which takes every route to and from that slot along. Those
        routes are only forgotten here, never disconnected: on pjsua 2.15 a
        disconnect queued behind the slot's removal runs against the empty
        slot and drops *every* route of the other port (pjproject issue 4719,
        fixed upstream by PR 4700), e.g. an agent session's own voice and
        engine audio when its caller hangs up, so its next caller never connects.
        """
        if stream_removed:
            self._forget_stream(others)
        for other in others:
            if self in other._hearing:
                other.stop_hearing(self)
            if self in other._hearing_engines:
                other.stop_hearing_engine(self)  # before this leg's engine port is reused
        for other in list(self._hearing):
            self.stop_hearing(other)
        for other in list(self._hearing_engines):
            self.stop_hearing_engine(other)
        for slot in list(self._hearing_slots):
            self.stop_hearing_slot(slot)
        self._unroute_stream()
        self._stream = None
        if self._engine is not None and self._tap is not None:
            conf_disconnect(self._engine.slot, self._tap.slot)
            self.pool.release(self, (self._engine, self._tap))
        self._engine = None
        self._tap = None

    def _forget_stream(self, others: list[LegAudio]) -> None:
        """Routes to and from the stream slot pjsua is removing are forgotten;
        those to this leg's tap (a port of ours, reused) are disconnected."""
        if self._stream is None or self._tap is None:
            return
        tap = self._tap.slot
        for other in others:
            other._hearing.discard(self)  # from the removed slot: gone with it
        for other in list(self._hearing):
            if other._stream is not None:
                conf_disconnect(other._stream, tap)
        for other in list(self._hearing_engines):
            if other._engine is not None:
                conf_disconnect(other._engine.slot, tap)
        for slot in self._hearing_slots:
            conf_disconnect(slot, tap)
        self._hearing.clear()
        self._hearing_engines.clear()
        self._hearing_slots.clear()
        self._stream = None  # engine port <-> stream: gone with the slot

    def _connect_source(self, source: int) -> None:
        assert self._stream is not None and self._tap is not None
        conf_connect(source, self._stream)
        conf_connect(source, self._tap.slot)

    def _disconnect_source(self, source: int) -> None:
        assert self._stream is not None and self._tap is not None
        conf_disconnect(source, self._stream)
        conf_disconnect(source, self._tap.slot)

    def _unroute_stream(self) -> None:
        if self._stream is None or self._engine is None:
            return
        conf_disconnect(self._stream, self._engine.slot)
        conf_disconnect(self._engine.slot, self._stream)
