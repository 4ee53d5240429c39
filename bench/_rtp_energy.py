"""Kernel-timestamped RTP on loopback with the audio energy of every packet.

Like :mod:`_rtp_capture` (a raw ``AF_PACKET`` socket on ``lo``, root needed,
``SO_TIMESTAMPNS`` stamps), but it keeps both directions of every stream
whose source or destination port lies in one of the given ranges, and decodes
each G.711 payload (PT 0 μ-law, PT 8 A-law) to its RMS and peak, so speech
can be located on the wire:

    capture = RtpEnergyCapture([(42000, 42100), (43000, 43100)])
    ...
    capture.packets[(src_port, dst_port)]  # [(ns, seq, rms, peak), ...]

Only packets the kernel reports as outgoing are kept (``lo`` shows each
packet twice). Times are ``CLOCK_REALTIME`` nanoseconds, comparable with
``time.time_ns()`` in any process on the machine. Telephone events (RFC 4733)
and RTCP are skipped (payload type not G.711).
"""

from __future__ import annotations

import bisect
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

import numpy as np

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.float64)


def _alaw_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.float64)


_TABLES = {0: _ulaw_table(), 8: _alaw_table()}


@dataclass
class Stream:
    """One direction of one call's RTP: packets in arrival order."""

    ns: list[int]
    seq: list[int]
    rms: list[float]
    peak: list[float]
    tone: list[float | None]  # the capture's tone that dominates the packet, if any

    def __init__(self) -> None:
        self.ns, self.seq, self.rms, self.peak, self.tone = [], [], [], [], []

    def first_tone(self, freq: float, t_ns: int) -> int | None:
        """Time of the first packet after `t_ns` dominated by the tone `freq`."""
        for i in range(self.index_after(t_ns), len(self.ns)):
            if self.tone[i] == freq:
                return self.ns[i]
        return None

    def index_after(self, t_ns: int) -> int:
        """Index of the first packet stamped strictly after `t_ns`."""
        return bisect.bisect_right(self.ns, t_ns)

    def first_after(self, t_ns: int, *, min_rms: float = 0.0, min_peak: float = 0.0,
                    until_ns: int | None = None) -> int | None:
        """Time of the first packet after `t_ns` louder than the thresholds."""
        for i in range(self.index_after(t_ns), len(self.ns)):
            if until_ns is not None and self.ns[i] > until_ns:
                return None
            if self.rms[i] > min_rms and self.peak[i] > min_peak:
                return self.ns[i]
        return None

    def loud_between(self, t0_ns: int, t1_ns: int, min_rms: float) -> list[int]:
        """Times of the packets in (t0, t1] with RMS above `min_rms`."""
        out = []
        for i in range(self.index_after(t0_ns), len(self.ns)):
            if self.ns[i] > t1_ns:
                break
            if self.rms[i] > min_rms:
                out.append(self.ns[i])
        return out


def _stamp(anc: list) -> int:
    """The kernel's receive time of a packet (ns), else now."""
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            return int(sec * 1_000_000_000 + nsec)
    return time.time_ns()


def _dominant(samples: np.ndarray, tones: tuple[float, ...], rate: int = 8000,
              share: float = 0.4, width: float = 60.0) -> float | None:
    """The tone of `tones` holding at least `share` of the packet's energy, if any."""
    if not samples.size or float(np.max(np.abs(samples))) < 300:
        return None
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    total = float(spectrum.sum())
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    for tone in tones:
        band = (freqs > tone - width) & (freqs < tone + width)
        if total > 0 and float(spectrum[band].sum()) / total >= share:
            return tone
    return None


class RtpEnergyCapture:
    """Outgoing loopback RTP to or from ports in `ranges` ([lo, hi) pairs)."""

    def __init__(self, ranges: list[tuple[int, int]], tones: tuple[float, ...] = ()) -> None:
        """`tones`: frequencies to recognise in each packet (``Stream.tone``);
        telephone events (RFC 4733) are then kept too, in :attr:`events`."""
        self.ranges = ranges
        self.tones = tones
        self.events: dict[tuple[int, int], list[int]] = {}
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        self.packets: dict[tuple[int, int], Stream] = {}
        self.lock = threading.Lock()
        self.dropped_parse = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtp-energy", daemon=True)
        self._thread.start()

    def _wanted(self, port: int) -> bool:
        return any(lo <= port < hi for lo, hi in self.ranges)

    def _run(self) -> None:
        sock = self.sock
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.2)
            if not ready:
                continue
            # Drain whatever is queued, without blocking.
            while True:
                try:
                    data, anc, _flags, addr = sock.recvmsg(2048, 64, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                self._packet(data, anc, addr)

    def _packet(self, data: bytes, anc: list, addr: tuple) -> None:
        if addr[2] != PACKET_OUTGOING:
            return
        if len(data) < 14 + 20 + 8 + 12 or data[12:14] != b"\x08\x00":
            return
        ip = 14
        ihl = (data[ip] & 0x0F) * 4
        if data[ip + 9] != 17:
            return
        udp = ip + ihl
        sport, dport = struct.unpack_from("!HH", data, udp)
        if not (self._wanted(sport) or self._wanted(dport)):
            return
        rtp = udp + 8
        if data[rtp] >> 6 != 2:
            return
        pt = data[rtp + 1] & 0x7F
        table = _TABLES.get(pt)
        if table is None:
            if self.tones and pt >= 96:  # a telephone event (dynamic payload type)
                with self.lock:
                    self.events.setdefault((sport, dport), []).append(_stamp(anc))
            return
        cc = data[rtp] & 0x0F
        start = rtp + 12 + 4 * cc
        if data[rtp] & 0x10:  # header extension
            if len(data) < start + 4:
                return
            start += 4 + 4 * struct.unpack_from("!H", data, start + 2)[0]
        payload = data[start:]
        if data[rtp] & 0x20 and payload:  # padding
            payload = payload[: len(payload) - payload[-1]]
        if not payload:
            return
        ts = _stamp(anc)
        samples = table[np.frombuffer(payload, dtype=np.uint8)]
        rms = float(np.sqrt(np.mean(samples * samples)))
        peak = float(np.max(np.abs(samples)))
        seq = struct.unpack_from("!H", data, rtp + 2)[0]
        with self.lock:
            stream = self.packets.get((sport, dport))
            if stream is None:
                stream = self.packets[(sport, dport)] = Stream()
            stream.ns.append(ts)
            stream.seq.append(seq)
            stream.rms.append(rms)
            stream.peak.append(peak)
            stream.tone.append(_dominant(samples, self.tones) if self.tones else None)

    def stream(self, sport: int, dport: int) -> Stream:
        """The packets sent from `sport` to `dport` so far (sorted by time)."""
        with self.lock:
            s = self.packets.get((sport, dport), Stream())
            out = Stream()
            order = sorted(range(len(s.ns)), key=s.ns.__getitem__)
            out.ns = [s.ns[i] for i in order]
            out.seq = [s.seq[i] for i in order]
            out.rms = [s.rms[i] for i in order]
            out.peak = [s.peak[i] for i in order]
            out.tone = [s.tone[i] for i in order]
            return out

    def peers_of(self, port: int) -> set[int]:
        """Ports that `port` exchanged RTP with."""
        with self.lock:
            return {d for s, d in self.packets if s == port} | {
                s for s, d in self.packets if d == port}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
