"""Conference-bridge media ports declared through ctypes over pjmedia's C API.

pjsua2's ``AudioMediaPort`` is a SWIG director: every frame goes through
SWIG's up-call machinery (128-140 µs per leg per tick, measured) and
pjproject 2.12.1's binding has no such class at all. Both the stock wheel
and a self-built ``_pjsua2*.so`` export the plain C API, so a port is
declared here as a ``pjmedia_port`` struct, joined to the bridge with
``pjsua_conf_add_port`` and routed with ``pjsua_conf_connect``. Its
``put_frame``/``get_frame`` are the C functions of sip/_ringport.c, which
only copy frames into and out of rings: the clock thread, which also sends
every RTP packet, never waits for the GIL, and Python moves the audio of
all legs in one pass (:mod:`sip.media_pump`).

The struct's tail differs between pjproject releases (2.15 has a group
lock before the callbacks), so :func:`port_layout` learns where
``put_frame`` and ``get_frame`` live by asking pjmedia itself: a probe port
holds a distinct callback in every candidate slot, and
``pjmedia_port_get_frame``/``put_frame`` tell which one they call. Nothing
is guessed; an unknown layout stops the node at start.

Ports are never removed from the bridge while it runs (see
:class:`sip.leg_audio.PortPool`); their memory is never freed.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
from dataclasses import dataclass

import pjsua2._pjsua2 as _pjsua2_lib

from callcenter.core.errors import MediaError

FRAME_TYPE_NONE = 0
FRAME_TYPE_AUDIO = 1
_SIGNATURE = 0x43434D50  # "CCMP": a callcenter media port, for pjmedia's logs
_PORT_BYTES = 256  # room for any release's pjmedia_port (2.15: 120 bytes)
_CANDIDATE_SLOTS = range(64, 136, 8)  # byte offsets after pjmedia_port_info

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _AudioDetail(ctypes.Structure):
    _fields_ = [("clock_rate", ctypes.c_uint), ("channel_count", ctypes.c_uint),
                ("frame_time_usec", ctypes.c_uint), ("bits_per_sample", ctypes.c_uint),
                ("avg_bps", ctypes.c_uint32), ("max_bps", ctypes.c_uint32)]


class _PortInfo(ctypes.Structure):
    """``pjmedia_port_info``: name, signature, direction, then ``pjmedia_format``
    (id, type, detail type, and a 24-byte union whose audio member is used)."""

    _fields_ = [("name", _PjStr), ("signature", ctypes.c_uint32), ("dir", ctypes.c_int),
                ("fmt_id", ctypes.c_uint32), ("fmt_type", ctypes.c_int),
                ("fmt_detail_type", ctypes.c_int), ("aud", _AudioDetail)]


class _Frame(ctypes.Structure):
    """``pjmedia_frame``; the same in every release since 2.0."""

    _fields_ = [("type", ctypes.c_int), ("buf", ctypes.c_void_p), ("size", ctypes.c_size_t),
                ("timestamp", ctypes.c_uint64), ("bit_info", ctypes.c_uint32)]


@functools.cache
def pj_lib() -> ctypes.CDLL:
    """The loaded ``_pjsua2`` library with the prototypes this package uses."""
    lib = ctypes.CDLL(_pjsua2_lib.__file__)
    lib.pjmedia_port_info_init.argtypes = [ctypes.c_void_p, ctypes.POINTER(_PjStr),
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                           ctypes.c_uint, ctypes.c_uint]
    lib.pjmedia_port_get_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjmedia_port_put_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsua_pool_create.restype = ctypes.c_void_p
    lib.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
    lib.pjsua_conf_add_port.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_int)]
    lib.pjsua_conf_connect.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pjsua_conf_disconnect.argtypes = [ctypes.c_int, ctypes.c_int]
    return lib


@dataclass(frozen=True)
class PortLayout:
    """Byte offsets of the two callbacks inside this build's ``pjmedia_port``."""

    put_frame: int
    get_frame: int


@functools.cache
def port_layout() -> PortLayout:
    """Learn the callback offsets from pjmedia itself (any thread; no endpoint needed)."""
    lib = pj_lib()
    port = (ctypes.c_ubyte * _PORT_BYTES)()
    calls: list[int] = []
    # Keep every probe callback referenced while pjmedia may call it.
    probes = [_Callback(functools.partial(_record_slot, calls, slot))
              for slot in _CANDIDATE_SLOTS]
    for slot, probe in zip(_CANDIDATE_SLOTS, probes, strict=True):
        ctypes.c_void_p.from_buffer(port, slot).value = ctypes.cast(probe, ctypes.c_void_p).value
    frame = _Frame()
    lib.pjmedia_port_get_frame(ctypes.addressof(port), ctypes.addressof(frame))
    lib.pjmedia_port_put_frame(ctypes.addressof(port), ctypes.addressof(frame))
    if len(calls) != 2 or calls[0] == calls[1]:
        raise MediaError(f"unknown pjmedia_port layout in {_pjsua2_lib.__file__} "
                         f"(probe calls at offsets {calls}); this pjsua2 build is unsupported")
    return PortLayout(get_frame=calls[0], put_frame=calls[1])


def _record_slot(calls: list[int], slot: int, _port: int | None, _frame: int | None) -> int:
    calls.append(slot)
    return 0


@functools.cache
def ring_lib() -> ctypes.CDLL:
    """The ring ports' C library (sip/_ringport.c, built with the package)."""
    # The compiled module is imported only to find its file; ctypes uses it.
    path = importlib.import_module("sip._ringport").__file__
    if path is None:
        raise MediaError("sip._ringport has no file: reinstall the package (pip install -e .)")
    lib = ctypes.CDLL(path)
    lib.ringport_new.restype = ctypes.c_void_p
    lib.ringport_new.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]
    lib.ringport_port_bytes.restype = ctypes.c_int
    lib.ringport_enable.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.ringport_read.restype = ctypes.c_uint32
    lib.ringport_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
    lib.ringport_write.restype = ctypes.c_uint32
    lib.ringport_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
    lib.ringport_tx_count.restype = ctypes.c_uint32
    lib.ringport_tx_count.argtypes = [ctypes.c_void_p]
    lib.ringport_rx_count.restype = ctypes.c_uint32
    lib.ringport_rx_count.argtypes = [ctypes.c_void_p]
    lib.ringport_flush_tx.argtypes = [ctypes.c_void_p]
    lib.ringport_counters.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]
    lib.ringport_clock_tid.restype = ctypes.c_long
    if lib.ringport_port_bytes() < _PORT_BYTES:
        raise MediaError("sip/_ringport.c reserves less room than a pjmedia_port needs")
    return lib


class MediaPort:
    """A mono PCM16 port in the conference bridge whose frames go through rings.

    pjmedia's clock thread calls the C callbacks of sip/_ringport.c: what the
    bridge mixes for this port is appended to the *rx* ring (a frame of
    silence when there was no audio, so the timeline stays whole) and what
    the port says is taken from the *tx* ring (no audio when it is empty).
    Python reads and fills the rings from any one thread (the media pump),
    never on the clock thread. Create and :meth:`add_to_bridge` on the SIP
    thread; the memory is never freed (ports are pooled for the node's life).
    """

    def __init__(self, name: str, clock_rate: int, frame_ms: int = 20, *,
                 rx_frames: int = 64, tx_frames: int = 16) -> None:
        lib, ring = pj_lib(), ring_lib()
        layout = port_layout()
        self.clock_rate = clock_rate
        self.frame_bytes = clock_rate * frame_ms // 1000 * 2
        self.slot = -1
        self._name = name.encode()
        address = ring.ringport_new(self.frame_bytes, rx_frames, tx_frames)
        if not address:
            raise MediaError(f"cannot allocate ring port {name}")
        self.address: int = address
        self._read_buf = ctypes.create_string_buffer(self.frame_bytes * rx_frames)
        self._rx_frames = rx_frames
        name_str = _PjStr(self._name, len(self._name))
        status = lib.pjmedia_port_info_init(address, ctypes.byref(name_str), _SIGNATURE,
                                            clock_rate, 1, 16, clock_rate * frame_ms // 1000)
        info = _PortInfo.from_address(address)
        if status != 0 or info.aud.clock_rate != clock_rate or info.aud.channel_count != 1:
            raise MediaError(f"pjmedia_port_info_init failed for {name} (status {status})")
        # on_destroy follows get_frame in every release (2.12-2.15).
        on_destroy = layout.get_frame + ctypes.sizeof(ctypes.c_void_p)
        for offset, fn in ((layout.put_frame, ring.ringport_put_frame),
                           (layout.get_frame, ring.ringport_get_frame),
                           (on_destroy, ring.ringport_on_destroy)):
            ctypes.c_void_p.from_address(address + offset).value = ctypes.cast(
                fn, ctypes.c_void_p).value

    def add_to_bridge(self, pool: int) -> int:
        """Register with pjsua's conference bridge (SIP thread); returns the slot."""
        slot = ctypes.c_int(-1)
        status = pj_lib().pjsua_conf_add_port(ctypes.c_void_p(pool), self.address,
                                              ctypes.byref(slot))
        if status != 0:
            raise MediaError(f"pjsua_conf_add_port failed (status {status}): "
                             "the bridge has no free port")
        self.slot = slot.value
        return self.slot

    def enable(self, rx: bool, tx: bool) -> None:
        """Whether the bridge's frames are kept (rx) and the tx ring is played."""
        ring_lib().ringport_enable(self.address, int(rx), int(tx))

    def read(self) -> bytes:
        """Every whole frame waiting in the rx ring, oldest first (one consumer)."""
        n = ring_lib().ringport_read(self.address, self._read_buf, self._rx_frames)
        return ctypes.string_at(self._read_buf, n * self.frame_bytes) if n else b""

    def write(self, frames: bytes) -> int:
        """Append whole frames to the tx ring; returns how many fit (one producer)."""
        return int(ring_lib().ringport_write(self.address, frames,
                                             len(frames) // self.frame_bytes))

    @property
    def tx_queued(self) -> int:
        """Frames in the tx ring, not yet played."""
        return int(ring_lib().ringport_tx_count(self.address))

    def flush_tx(self) -> None:
        """Drop what the tx ring holds: it stops at the next tick (any thread)."""
        ring_lib().ringport_flush_tx(self.address)

    @property
    def dropped(self) -> tuple[int, int]:
        """Frames dropped for want of room: (rx, tx)."""
        out = (ctypes.c_uint64 * 2)()
        ring_lib().ringport_counters(self.address, out)
        return int(out[0]), int(out[1])


def clock_thread_id() -> int | None:
    """The OS thread id of the bridge's clock (the last thread that began
    calling the ring ports), or None before any call's audio ran."""
    tid = int(ring_lib().ringport_clock_tid())
    return tid or None


def conf_connect(source: int, sink: int) -> None:
    """Route bridge slot `source` into `sink` (SIP thread)."""
    status = pj_lib().pjsua_conf_connect(source, sink)
    if status != 0:
        raise MediaError(f"pjsua_conf_connect({source}, {sink}) failed (status {status})")


def conf_disconnect(source: int, sink: int) -> None:
    """Undo :func:`conf_connect`; a route already gone is not an error (SIP thread)."""
    pj_lib().pjsua_conf_disconnect(source, sink)


def create_pool(name: str) -> int:
    """A pjsua memory pool for conference registrations (SIP thread, after libInit).

    Never released by hand: the bridge keeps pointers into it until
    ``libDestroy``, which frees every pjsua pool itself.
    """
    pool = pj_lib().pjsua_pool_create(name.encode(), 4096, 4096)
    if not pool:
        raise MediaError("pjsua_pool_create failed")
    return int(pool)
