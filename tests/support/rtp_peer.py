"""An RTP peer with codecs independent of pjmedia, for level tests.

sipp carries a call's SIP (its SDP names this peer's port); this peer sends
and receives the RTP. Its G.722 and PCMU are ffmpeg's (through PyAV, which
faster-whisper already brings): ffmpeg's G.722 is a port of spandsp's, the
codec baresip and Asterisk use, so levels measured here are what such a
softphone hears, not what pjmedia's own codec thinks it sent.

Loopback only; every wait is bounded.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

import av
import numpy as np

# codec name -> (RTP payload type, PCM rate, RTP clock rate, ffmpeg codec)
CODECS = {"PCMU": (0, 8000, 8000, "pcm_mulaw"), "G722": (9, 16000, 8000, "g722")}
FRAME_MS = 20


def encode(codec: str, pcm: np.ndarray) -> list[bytes]:
    """PCM16 mono at the codec's rate -> one RTP payload per 20 ms."""
    _, rate, _, name = CODECS[codec]
    ctx = av.CodecContext.create(name, "w")
    ctx.sample_rate, ctx.format, ctx.layout = rate, "s16", "mono"  # type: ignore[attr-defined]
    ctx.open()
    step = rate * FRAME_MS // 1000
    out = bytearray()
    for i in range(0, len(pcm) - step + 1, step):
        frame = av.AudioFrame.from_ndarray(pcm[i:i + step].astype("<i2").reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in ctx.encode(frame):  # type: ignore[attr-defined]
            out += bytes(packet)
    size = len(out) // (len(pcm) // step)
    return [bytes(out[i:i + size]) for i in range(0, len(out) - size + 1, size)]


def decode(codec: str, payloads: list[bytes]) -> np.ndarray:
    """RTP payloads in order -> PCM16 mono at the codec's rate."""
    _, rate, _, name = CODECS[codec]
    ctx = av.CodecContext.create(name, "r")
    ctx.sample_rate, ctx.layout = rate, "mono"  # type: ignore[attr-defined]
    ctx.open()
    chunks = [np.zeros(0, np.int16)]
    for payload in payloads:
        for frame in ctx.decode(av.Packet(payload)):  # type: ignore[attr-defined]
            chunks.append(frame.to_ndarray().reshape(-1).astype(np.int16))
    return np.concatenate(chunks)


@dataclass
class Received:
    """What the peer heard: payloads in arrival order (loopback keeps the
    sending order) with their arrival times."""

    payloads: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)


class RtpPeer:
    """One UDP socket on 127.0.0.1 speaking RTP with one codec."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.received = Received()
        self.sent_at: list[float] = []  # monotonic time each payload left
        self._remote: tuple[str, int] | None = None

    def close(self) -> None:
        self.sock.close()

    def run(self, payloads: list[bytes], first_packet_timeout: float = 15.0,
            tail_s: float = 0.5) -> None:
        """Wait for the far end's first packet, then send `payloads` every
        20 ms to where it came from (symmetric RTP) while receiving; keep
        receiving `tail_s` after the last. Blocking: run it in a thread."""
        self._receive_until(time.monotonic() + first_packet_timeout, stop_on_first=True)
        if self._remote is None:
            raise TimeoutError(f"no RTP reached the {self.codec} peer in {first_packet_timeout} s")
        pt, _, clock, _ = CODECS[self.codec]
        ssrc, step = 0x1234ABCD, clock * FRAME_MS // 1000
        start = time.monotonic()
        for n, payload in enumerate(payloads):
            due = start + n * FRAME_MS / 1000
            self._receive_until(due)
            header = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | pt, n & 0xFFFF,
                                 n * step, ssrc)
            self.sock.sendto(header + payload, self._remote)
            self.sent_at.append(time.monotonic())
        self._receive_until(time.monotonic() + tail_s)

    def _receive_until(self, deadline: float, stop_on_first: bool = False) -> None:
        pt = CODECS[self.codec][0]
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                return
            if len(data) < 12 or data[1] & 0x7F != pt:
                continue  # RTCP arrives on its own port; telephone-event is not audio
            cc = data[0] & 0x0F
            self._remote = self._remote or addr
            self.received.payloads.append(data[12 + 4 * cc:])
            self.received.arrivals.append(time.monotonic())
            if stop_on_first:
                return
