"""Reading a received SIP request (``pjsip_rx_data``) from a ctypes PJSIP module.

A PJSIP module's ``on_rx_request`` gets a bare ``pjsip_rx_data *``. pjsip
exports no accessor for its source address or raw text, and the struct's
layout depends on the build: ``pkt_info.packet`` is ``PJSIP_MAX_PKT_LEN``
bytes (4000 by default, 8000 in Jami's pjproject 2.12.1 config), and the
``pj_ioqueue_op_key_t`` before it is sized by pjlib. So fixed offsets would
be wrong on one of the two builds the engine runs on.

Checked against the headers of pjproject 2.12.1 (the Jami tree in Debian's
``ring`` source package) and of current pjproject (2.15.x): in both,
``pkt_info`` ends ``..., pj_uint32_t zero; pj_ssize_t len; pj_sockaddr
src_addr; int src_addr_len; char src_name[PJ_INET6_ADDRSTRLEN=46]; int
src_port;`` and ``msg_info`` follows it, starting ``char *msg_buf; int len;
pjsip_msg *msg; char *info; ...``. ``pj_sockaddr`` is 28 bytes aligned to 4
in both (``pj_in6_addr`` is glibc's ``struct in6_addr``), and ``pkt_info.len``
is 8-aligned, so everything from ``pkt_info.len`` on sits at fixed distances
*before* ``msg_info``, whatever ``PJSIP_MAX_PKT_LEN`` is.

:class:`RxDataReader` therefore finds ``msg_info`` once, at run time: the
pointer :c:func:`pjsip_rx_data_get_info` returns is cached by pjsip in
``msg_info.info``, so the reader scans the struct for that pointer and
checks the find (``msg`` and ``msg_buf`` pointers consistent, the source
address agreeing with its own text form). Every later read re-checks the
``info`` pointer at the cached offset and the source address against itself;
anything inconsistent yields ``None`` rather than a wrong answer.
"""

from __future__ import annotations

import ctypes
import logging
import re
import socket
import struct
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Distances from the start of msg_info (pjsip 2.12.1 and 2.15.x, LP64).
_MSG_BUF, _MSG_LEN, _MSG, _INFO = 0, 8, 16, 24
_SRC_ADDR, _SRC_ADDR_LEN, _SRC_NAME, _SRC_PORT = -88, -60, -56, -8
_SRC_NAME_LEN = 46  # PJ_INET6_ADDRSTRLEN
_SCAN_LIMIT = 1 << 20  # msg_info lies within the first MiB of any sane build
_SCAN_CHUNK = 512  # words read per step while scanning
_WORD = ctypes.sizeof(ctypes.c_void_p)
_MAX_MESSAGE = 65536


@dataclass(frozen=True)
class RxRequest:
    """What the engine needs of a received request, copied out of pjsip."""

    source: str  # the packet's source IP address, as text
    source_port: int
    message: bytes  # the request as received (start line, headers, body)

    @property
    def start_line(self) -> str:
        """``INVITE sip:100@host SIP/2.0``"""
        return self.message.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def method(self) -> str:
        return self.start_line.split(" ", 1)[0]

    @property
    def request_uri(self) -> str:
        parts = self.start_line.split(" ")
        return parts[1] if len(parts) > 1 else ""

    def header(self, *names: str) -> str:
        """The first value of a header given by its names (long and compact)."""
        return header_value(self.message.decode("latin-1"), names)


def header_value(message: str, names: tuple[str, ...]) -> str:
    """The first value of a header named any of `names` (case-insensitive)
    in a SIP message's text; empty if absent."""
    wanted = {n.lower() for n in names}
    for line in message.split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in wanted:
            return value.strip()
    return ""


def strip_tag(name_addr: str) -> str:
    """A From value without its dialog tag (it says nothing about the caller)."""
    return re.sub(r";\s*tag=[^;>\s]*", "", name_addr)


class RxDataReader:
    """Finds and reads ``msg_info`` and the tail of ``pkt_info`` of an rdata."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._get_info = lib.pjsip_rx_data_get_info
        self._get_info.restype = ctypes.c_void_p
        self._get_info.argtypes = [ctypes.c_void_p]
        self.msg_info_offset: int | None = None
        self._warned = False

    def info(self, rdata: int) -> bytes:
        """pjsip's short description (``Request msg INVITE/cseq=1 (rdata0x..)``)."""
        pointer = self._get_info(rdata)
        return ctypes.string_at(pointer) if pointer else b""

    def read(self, rdata: int) -> RxRequest | None:
        """The source and text of the request in `rdata`; None if this
        build's layout could not be verified (logged once)."""
        info = self._get_info(rdata)
        if not info:
            return None
        offset = self.msg_info_offset
        if offset is None or _word(rdata + offset + _INFO) != info:
            offset = self._find(rdata, info)
            if offset is None:
                self._warn("no msg_info.info pointer found in pjsip_rx_data")
                return None
            if self.msg_info_offset is not None and offset != self.msg_info_offset:
                log.warning("pjsip_rx_data: msg_info moved from %d to %d bytes",
                            self.msg_info_offset, offset)
            self.msg_info_offset = offset
        base = rdata + offset
        source = _source(base)
        if source is None:
            self._warn("pkt_info source address does not match its text form")
            return None
        buf, length = _word(base + _MSG_BUF), ctypes.c_int.from_address(base + _MSG_LEN).value
        if not buf or not 0 < length <= _MAX_MESSAGE:
            return None
        return RxRequest(source[0], source[1], ctypes.string_at(buf, length))

    def _find(self, rdata: int, info: int) -> int | None:
        for start in range(0, _SCAN_LIMIT, _SCAN_CHUNK * _WORD):
            words = (ctypes.c_uint64 * _SCAN_CHUNK).from_address(rdata + start)[:]
            for index, value in enumerate(words):
                if value != info:
                    continue
                offset = start + index * _WORD - _INFO
                if self._plausible(rdata, offset):
                    return offset
        return None

    @staticmethod
    def _plausible(rdata: int, offset: int) -> bool:
        """msg_info at `offset`: msg_buf points into the packet before it,
        msg is set, and the source address agrees with its text."""
        if offset + _SRC_ADDR < 0:
            return False
        base = rdata + offset
        buf = _word(base + _MSG_BUF)
        return (rdata < buf < base + _SRC_ADDR and _word(base + _MSG) != 0
                and _source(base) is not None)

    def _warn(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.error("cannot read requests' source addresses from this pjsip build (%s): "
                      "per-source limits and reserved numbers are not applied", why)


def _word(address: int) -> int:
    return int(ctypes.c_uint64.from_address(address).value)


def _source(base: int) -> tuple[str, int] | None:
    """(address, port) from pkt_info, if src_addr, src_name and src_port agree."""
    raw = ctypes.string_at(base + _SRC_ADDR, 28)
    family, port_be = struct.unpack_from("=HH", raw)
    addr_len = ctypes.c_int.from_address(base + _SRC_ADDR_LEN).value
    # pjsip's TCP transport gives sizeof(pj_sockaddr) even for IPv4.
    if family == socket.AF_INET and addr_len in (16, 28):
        address = socket.inet_ntop(socket.AF_INET, raw[4:8])
    elif family == socket.AF_INET6 and addr_len == 28:
        address = socket.inet_ntop(socket.AF_INET6, raw[8:24])
    else:
        return None
    name = ctypes.string_at(base + _SRC_NAME, _SRC_NAME_LEN).split(b"\0", 1)[0]
    port = ctypes.c_int.from_address(base + _SRC_PORT).value
    if name.decode("latin-1") != address or port != socket.ntohs(port_be):
        return None
    return address, port
