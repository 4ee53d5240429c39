"""SIP test tools for end-to-end tests: sipp (Debian `sip-tester`) and raw UDP.

Every run is bounded (``timeout``) and uses 127.0.0.1 only. Ports for sipp
are picked from 20000-30000, below the kernel's ephemeral range, so they do
not collide with ports the engines get from the OS.
"""

from __future__ import annotations

import contextlib
import random
import re
import select
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIPP = shutil.which("sipp")

_COUNTER = r"{}\s*\|\s*\d+\s*\|\s*(\d+)"
_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(rb"^SIP/2\.0 (\d{3})")
SIPP_START_ATTEMPTS = 3  # sipp runs again on new ports if another process took its own


def port_was_taken(output: str) -> bool:
    """Whether sipp's output says it could not bind a port (it then ran no call)."""
    return "Address already in use" in output


def free_port(span: int = 1) -> int:
    """A port p with p .. p+span-1 free on UDP and TCP of 127.0.0.1."""
    for _ in range(200):
        port = random.randrange(20000, 30000 - span, 2)
        socks: list[socket.socket] = []
        try:
            for p in range(port, port + span):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range found")


class HeldPort:
    """A free port (:func:`free_port`) kept bound on UDP and TCP of 127.0.0.1
    until :meth:`release`, so that no other process takes it meanwhile: for a
    port written into an engine's config long before its listener starts."""

    def __init__(self) -> None:
        self.port = free_port()
        self._socks: list[socket.socket] = []
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            sock = socket.socket(socket.AF_INET, kind)
            self._socks.append(sock)
            sock.bind(("127.0.0.1", self.port))

    def release(self) -> int:
        """Free the port for its listener, right before it starts; the port."""
        for sock in self._socks:
            sock.close()
        self._socks.clear()
        return self.port


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"sipp exit {self.returncode}, {self.successful} successful, "
                f"{self.failed} failed\n{self.stdout[-3000:]}\n{self.stderr[-2000:]}")


def sipp_cmd(port: int, *, scenario: Path | str = "uac", transport: str = "u1",
             service: str = "100", calls: int = 1, limit: int = 1, rate: float | None = None,
             pause_ms: int | None = None, timeout_s: int = 60) -> list[str]:
    """Command line of a sipp UAC calling sip:SERVICE@127.0.0.1:PORT."""
    if SIPP is None:
        raise RuntimeError("sipp is not installed (Debian package sip-tester)")
    local, media = free_port(), free_port(4)
    cmd = [SIPP, f"127.0.0.1:{port}", "-s", service, "-t", transport, "-i", "127.0.0.1",
           "-p", str(local), "-mi", "127.0.0.1", "-mp", str(media), "-m", str(calls),
           "-l", str(limit), "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin"]
    cmd += ["-sf", str(scenario)] if isinstance(scenario, Path) else ["-sn", scenario]
    if rate is not None:
        cmd += ["-r", str(rate)]
    if pause_ms is not None:
        cmd += ["-d", str(pause_ms)]
    return cmd


def run_sipp(port: int, *, cwd: Path, timeout_s: int = 60, **options: Any) -> SippResult:
    """Run sipp to completion (killed after ``timeout_s`` + 10 s at worst);
    `options` are those of :func:`sipp_cmd`. Should another process take
    sipp's ports between :func:`free_port` and sipp's bind, sipp runs again on
    new ones (:data:`SIPP_START_ATTEMPTS` in all): it fails at start then, before any call."""
    for _ in range(SIPP_START_ATTEMPTS):
        cmd = sipp_cmd(port, timeout_s=timeout_s, **options)
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                              timeout=timeout_s + 10, stdin=subprocess.DEVNULL)
        if not port_was_taken(done.stdout + done.stderr):
            break

    def counter(name: str) -> int:
        found = re.findall(_COUNTER.format(name), done.stdout)
        return int(found[-1]) if found else -1

    return SippResult(done.returncode, counter("Successful call"), counter("Failed call"),
                      done.stdout, done.stderr)


# A caller that answers nothing and sends no RTP: INVITE, ACK, then it waits
# for the engine's BYE (and answers it), so sipp succeeds only if BYE comes.
SILENT_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="silent uac">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv request="BYE" timeout="{bye_timeout_ms}"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: sip:sipp@[local_ip]:[local_port]
Content-Length: 0

]]></send>
</scenario>
"""


def silent_uac(path: Path, bye_timeout_ms: int = 20000) -> Path:
    path.write_text(SILENT_UAC.replace("{bye_timeout_ms}", str(bye_timeout_ms)))
    return path


# -- raw UDP ------------------------------------------------------------------
def call_id_of(message: bytes) -> bytes | None:
    match = _CALL_ID.search(message)
    return match.group(1) if match else None


def status_of(message: bytes) -> int | None:
    match = _STATUS.match(message)
    return int(match.group(1)) if match else None


def udp_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def receive(socks: list[socket.socket], seconds: float) -> list[bytes]:
    """Datagrams arriving on any of `socks` within `seconds`."""
    got: list[bytes] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(socks, [], [], left)
        for sock in ready:
            with contextlib.suppress(BlockingIOError):
                got.append(sock.recv(65535))
    return got


def options_request(sock: socket.socket, port: int) -> tuple[bytes, bytes]:
    """A well-formed OPTIONS from `sock` to 127.0.0.1:PORT, and its Call-ID."""
    local = sock.getsockname()[1]
    call_id = f"{uuid.uuid4().hex}@127.0.0.1"
    text = (f"OPTIONS sip:100@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};rport;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1:{local}>;tag={uuid.uuid4().hex[:10]}\r\n"
            f"To: <sip:100@127.0.0.1:{port}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
            f"Contact: <sip:probe@127.0.0.1:{local}>\r\n"
            "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n")
    return text.encode(), call_id.encode()


def options_ping(port: int, timeout: float = 5.0) -> int | None:
    """Send one OPTIONS and return the final status code (None: no answer)."""
    sock = udp_socket()
    try:
        request, call_id = options_request(sock, port)
        deadline = time.monotonic() + timeout
        sent = 0.0
        while (left := deadline - time.monotonic()) > 0:
            if time.monotonic() - sent > 0.5:  # UDP: retransmit like Timer E
                sock.sendto(request, ("127.0.0.1", port))
                sent = time.monotonic()
            for reply in receive([sock], min(left, 0.5)):
                code = status_of(reply)
                if call_id_of(reply) == call_id and code is not None and code >= 200:
                    return code
        return None
    finally:
        sock.close()
