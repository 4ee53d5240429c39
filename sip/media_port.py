"""Conference-bridge media ports declared through ctypes over pjmedia's C API.

pjsua2's ``AudioMediaPort`` is a SWIG director: every frame goes through
SWIG's up-call machinery (about 50 µs per leg per tick, ``bench/
bridge_leg_cost.py``) and pjproject 2.12.1's binding has no such class at
all. Both the stock wheel and a self-built ``_pjsua2*.so`` export the plain
C API, so a port is declared here as a ``pjmedia_port`` struct whose
``put_frame``/``get_frame`` pointers are ctypes callbacks, and joined to the
bridge with ``pjsua_conf_add_port``. Routes between bridge slots use
``pjsua_conf_connect``/``pjsua_conf_disconnect``.

The struct's tail differs between pjproject releases (2.15 has a group
lock before the callbacks), so :func:`port_layout` learns where
``put_frame`` and ``get_frame`` live by asking pjmedia itself: a probe port
holds a distinct callback in every candidate slot, and
``pjmedia_port_get_frame``/``put_frame`` tell which one they call. Nothing
is guessed; an unknown layout stops the node at start.

Callbacks run on pjmedia's clock thread. The first one on a thread pins a
Python thread state there (one unmatched ``PyGILState_Ensure``), so later
up-calls only take the GIL instead of creating and destroying a thread
state each time. Ports are never removed from the bridge while it runs
(see :class:`sip.leg_audio.PortPool`); their memory lives until after
``libDestroy``.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
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


_pinned = threading.local()


def _pin_thread_state() -> None:
    """Keep this (foreign) thread's Python thread state between up-calls."""
    if not getattr(_pinned, "done", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _pinned.done = True


FrameSink = Callable[[bytes | None], None]
"""Receives one 20 ms frame from the bridge (None: the bridge had no audio)."""

FrameSource = Callable[[], bytes]
"""Supplies the next frame for the bridge (exactly one frame of PCM16)."""


class MediaPort:
    """A mono PCM16 port in the conference bridge, fed and drained by Python.

    ``sink`` gets what the bridge mixes for this port; ``source`` is asked
    for what this port says. Either may be swapped at any time (the clock
    thread reads the attribute once per tick); None means silence / discard.
    Create and :meth:`add_to_bridge` on the SIP thread.
    """

    def __init__(self, name: str, clock_rate: int, frame_ms: int = 20) -> None:
        lib = pj_lib()
        layout = port_layout()
        self.clock_rate = clock_rate
        self.frame_bytes = clock_rate * frame_ms // 1000 * 2
        self.sink: FrameSink | None = None
        self.source: FrameSource | None = None
        self.slot = -1
        self._silence = bytes(self.frame_bytes)
        self._name = name.encode()
        self._struct = (ctypes.c_ubyte * _PORT_BYTES)()
        self._put = _Callback(self._on_put_frame)
        self._get = _Callback(self._on_get_frame)
        name_str = _PjStr(self._name, len(self._name))
        status = lib.pjmedia_port_info_init(ctypes.addressof(self._struct),
                                            ctypes.byref(name_str), _SIGNATURE, clock_rate, 1,
                                            16, clock_rate * frame_ms // 1000)
        info = _PortInfo.from_buffer(self._struct)
        if status != 0 or info.aud.clock_rate != clock_rate or info.aud.channel_count != 1:
            raise MediaError(f"pjmedia_port_info_init failed for {name} (status {status})")
        self._put_slot = ctypes.c_void_p.from_buffer(self._struct, layout.put_frame)
        self._get_slot = ctypes.c_void_p.from_buffer(self._struct, layout.get_frame)
        self._put_fn = ctypes.cast(self._put, ctypes.c_void_p).value
        self._get_fn = ctypes.cast(self._get, ctypes.c_void_p).value
        self.active = True

    @property
    def active(self) -> bool:
        """Whether pjmedia calls into Python for this port at all.

        An inactive port's callback pointers are NULL: the bridge's
        ``pjmedia_port_put_frame``/``get_frame`` return at once in C, so an
        idle pooled port or an unrecorded tap costs no GIL hand-over. (An
        aligned pointer store is atomic; the clock reads it once per tick.)
        """
        return bool(self._put_slot.value)

    @active.setter
    def active(self, on: bool) -> None:
        self._put_slot.value = self._put_fn if on else None
        self._get_slot.value = self._get_fn if on else None

    @property
    def address(self) -> int:
        return ctypes.addressof(self._struct)

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

    # -- clock thread -----------------------------------------------------------
    def _on_put_frame(self, _port: int | None, frame_addr: int | None) -> int:
        sink = self.sink
        if sink is None or frame_addr is None:
            return 0
        _pin_thread_state()
        frame = _Frame.from_address(frame_addr)
        if frame.type == FRAME_TYPE_AUDIO and frame.size == self.frame_bytes and frame.buf:
            sink(ctypes.string_at(frame.buf, frame.size))
        else:
            sink(None)
        return 0

    def _on_get_frame(self, _port: int | None, frame_addr: int | None) -> int:
        if frame_addr is None:
            return 0
        _pin_thread_state()
        frame = _Frame.from_address(frame_addr)
        source = self.source
        if source is None:
            frame.type = FRAME_TYPE_NONE
            frame.size = 0
            return 0
        data = source()
        size = min(len(data), self.frame_bytes)
        if frame.buf:
            ctypes.memmove(frame.buf, data, size)
        frame.size = size
        frame.type = FRAME_TYPE_AUDIO
        return 0


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
