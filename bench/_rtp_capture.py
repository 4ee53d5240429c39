"""Kernel-timestamped capture of outgoing RTP on loopback, and its gap statistics.

A raw ``AF_PACKET`` socket on ``lo`` (root needed) sees every UDP packet; the
kernel stamps each one (``SO_TIMESTAMPNS``). :class:`RtpCapture` keeps the
RTP packets sent from ports in a range; :func:`analyse` reports the gaps
between consecutive packets of each stream.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from typing import Any

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003


class RtpCapture:
    """Kernel-timestamped UDP packets leaving sockets in [lo_port, hi_port)."""

    def __init__(self, lo_port: int, hi_port: int) -> None:
        self.lo_port, self.hi_port = lo_port, hi_port
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("lo", 0))
        self.recording = False
        # src port -> list of (kernel time ns, rtp seq, dst port)
        self.streams: dict[int, list[tuple[int, int, int]]] = {}
        self.seen_ports: set[int] = set()  # any time, recording or not
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sock = self.sock
        lo, hi = self.lo_port, self.hi_port
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.2)
            if not ready:
                continue
            data, anc, _flags, addr = sock.recvmsg(2048, 64)
            if addr[2] != PACKET_OUTGOING:  # lo shows every packet twice
                continue
            if len(data) < 14 + 20 + 8 + 12 or data[12:14] != b"\x08\x00":
                continue
            ip = 14
            ihl = (data[ip] & 0x0F) * 4
            if data[ip + 9] != 17:  # UDP
                continue
            udp = ip + ihl
            sport, dport = struct.unpack_from("!HH", data, udp)
            if not lo <= sport < hi:
                continue
            self.seen_ports.add(sport)
            if not self.recording:
                continue
            ts = time.time_ns()  # fallback; the kernel's stamp below is preferred
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", payload[:16])
                    ts = sec * 1_000_000_000 + nsec
            rtp = udp + 8
            if data[rtp] >> 6 != 2:  # not RTP version 2 (SIP, RTCP is on odd ports)
                continue
            seq = struct.unpack_from("!H", data, rtp + 2)[0]
            self.streams.setdefault(sport, []).append((ts, seq, dport))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return 0.0
    return sorted_vals[min(len(sorted_vals) - 1, round(q * (len(sorted_vals) - 1)))]


def analyse(streams: dict[int, list[tuple[int, int, int]]], t0_ns: int) -> dict[str, Any]:
    """Gap statistics per stream and overall; `t0_ns` is the window start."""
    gaps: list[float] = []
    worst: list[tuple[float, float, int]] = []  # (gap ms, at s, port)
    per_stream = {}
    seq_lost = 0
    for port, pkts in sorted(streams.items()):
        pkts.sort()
        g = [(b[0] - a[0]) / 1e6 for a, b in zip(pkts, pkts[1:], strict=False)]
        for (a, b), gap in zip(zip(pkts, pkts[1:], strict=False), g, strict=False):
            seq_lost += max(0, ((b[1] - a[1]) & 0xFFFF) - 1)
            if gap > 30:
                worst.append((round(gap, 1), round((b[0] - t0_ns) / 1e9, 3), port))
        gaps.extend(g)
        sg = sorted(g)
        per_stream[str(port)] = {"packets": len(pkts),
                                 "max_gap_ms": round(sg[-1], 1) if sg else None,
                                 "p99_gap_ms": round(_pct(sg, 0.99), 1)}
    gaps.sort()
    worst.sort(reverse=True)
    return {"max_gap_ms": round(gaps[-1], 1) if gaps else None,
            "p99_gap_ms": round(_pct(gaps, 0.99), 2),
            "p50_gap_ms": round(_pct(gaps, 0.50), 2),
            "gaps_over_30ms": sum(1 for x in gaps if x > 30),
            "gaps_over_40ms": sum(1 for x in gaps if x > 40),
            "rtp_seq_lost": seq_lost,
            "worst_gaps": worst[:12],  # [gap ms, seconds into window, src port]
            "per_stream": per_stream}


class TcpdumpCapture:
    """The same streams as :class:`RtpCapture`, captured by tcpdump.

    At hundreds of calls a Python reader of a raw socket cannot keep up with
    every packet on ``lo`` on a busy 2-core machine: the kernel drops what it
    has no room for, and the drops look like gaps in the engine's audio.
    tcpdump filters in the kernel (BPF: UDP from the port range)
    and writes nanosecond-stamped packets to a file; :meth:`stop` parses
    it and reports how many packets the kernel dropped (``dropped``).
    """

    def __init__(self, lo_port: int, hi_port: int, path: str) -> None:
        import subprocess

        self.lo_port, self.hi_port, self.path = lo_port, hi_port, path
        self.streams: dict[int, list[tuple[int, int, int]]] = {}
        self.dropped = -1
        self.proc = subprocess.Popen(
            # On lo each packet passes twice; "-Q out" keeps neither copy there,
            # "-Q in" keeps one, stamped as it is looped back.
            ["tcpdump", "-i", "lo", "-n", "-Q", "in", "-B", "65536", "-s", "64",
             "--time-stamp-precision", "nano", "-w", path,
             f"udp and src portrange {lo_port}-{hi_port - 1}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # tcpdump attaches its filter before the window opens
        if self.proc.poll() is not None:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"tcpdump failed: {err}")

    def stop(self) -> None:
        """End the capture and read the file into ``streams``."""
        import re
        import signal

        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        match = re.search(r"(\d+) packets? dropped by kernel", err or "")
        self.dropped = int(match.group(1)) if match else -1
        with open(self.path, "rb") as f:
            data = f.read()
        magic = struct.unpack_from("<I", data, 0)[0]
        scale = 1 if magic == 0xA1B23C4D else 1000  # nanosecond or microsecond stamps
        pos = 24
        while pos + 16 <= len(data):
            sec, frac, incl, _orig = struct.unpack_from("<IIII", data, pos)
            pkt = data[pos + 16: pos + 16 + incl]
            pos += 16 + incl
            if len(pkt) < 14 + 20 + 8 + 4 or pkt[12:14] != b"\x08\x00":
                continue
            udp = 14 + (pkt[14] & 0x0F) * 4
            sport, dport = struct.unpack_from("!HH", pkt, udp)
            rtp = udp + 8
            if len(pkt) < rtp + 4 or pkt[rtp] >> 6 != 2:
                continue
            seq = struct.unpack_from("!H", pkt, rtp + 2)[0]
            self.streams.setdefault(sport, []).append(
                (sec * 1_000_000_000 + frac * scale, seq, dport))
