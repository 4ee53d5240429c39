"""Refuse new INVITEs with 503 once every call slot is taken.

At its compiled-in call limit pjsua answers a new INVITE with 486 "Busy
Here" itself, before any application callback runs. 486 tells a trunk the
*callee* is busy, so it gives up; 503 tells it this *node* is full, so a SIP
edge (Kamailio's dispatcher) tries another node. pjsua2 has no hook early
enough, so this module registers a plain PJSIP module (the public
``pjsip_module`` struct, through ctypes, from the symbols the pjsua2 wheel
exports) at a priority just above pjsua's own call module. It only sees
out-of-dialog requests (in-dialog ones are consumed by the UA layer first),
and answers an initial INVITE with 503 and Retry-After when the node's
capacity is used up; everything else passes through untouched.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

import pjsua2._pjsua2 as _pjsua2_lib

log = logging.getLogger(__name__)

_PRIORITY = 63  # PJSIP_MOD_PRIORITY_APPLICATION (64) - 1: before pjsua's call module
_RX_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_ANY_CALLBACK = ctypes.c_void_p


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _PjsipModule(ctypes.Structure):
    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _PjStr),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", _ANY_CALLBACK),
        ("start", _ANY_CALLBACK),
        ("stop", _ANY_CALLBACK),
        ("unload", _ANY_CALLBACK),
        ("on_rx_request", _RX_CALLBACK),
        ("on_rx_response", _ANY_CALLBACK),
        ("on_tx_request", _ANY_CALLBACK),
        ("on_tx_response", _ANY_CALLBACK),
        ("on_tsx_state", _ANY_CALLBACK),
    ]


class _HdrLinks(ctypes.Structure):
    """The list links that start every ``pjsip_hdr`` (PJ_DECL_LIST_MEMBER)."""

    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p)]


class _HdrListHead(ctypes.Structure):
    """A ``pjsip_hdr`` used only as a list head (links, type, name, sname, vptr)."""

    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("type", ctypes.c_int),
                ("name", _PjStr), ("sname", _PjStr), ("vptr", ctypes.c_void_p)]


class OverloadGuard:
    """A PJSIP module answering `code` (503 by default) to INVITEs once
    pjsua's `capacity()` call slots are all taken.

    Register and unregister on the SIP thread (after ``libStart``, before
    ``libDestroy``).
    """

    def __init__(self, capacity: Callable[[], int], code: int = 503,
                 retry_after_s: int = 5) -> None:
        self._capacity = capacity
        self._code = code
        self._lib = ctypes.CDLL(_pjsua2_lib.__file__)
        self._lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        self._lib.pjsip_rx_data_get_info.restype = ctypes.c_char_p
        self._lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
        self._lib.pjsua_call_get_count.restype = ctypes.c_uint
        self._lib.pjsip_endpt_respond_stateless.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p]
        self._name = b"mod-callcenter-overload"
        self._retry_after = str(retry_after_s).encode()
        self._headers: _HdrListHead | None = None
        self._pool: int | None = None
        self._callback = _RX_CALLBACK(self._on_rx_request)  # kept alive with the module
        self._module = _PjsipModule(name=_PjStr(self._name, len(self._name)), id=-1,
                                    priority=_PRIORITY, on_rx_request=self._callback)
        self._endpt: int | None = None
        self.refused = 0

    def register(self) -> None:
        endpt = self._lib.pjsua_get_pjsip_endpt()
        status = self._lib.pjsip_endpt_register_module(ctypes.c_void_p(endpt),
                                                       ctypes.byref(self._module))
        if status != 0:
            log.warning("overload guard not installed (pjsip status %d); pjsua will answer "
                        "486 at its call limit", status)
            return
        self._endpt = endpt
        self._headers = self._retry_after_header()

    def _retry_after_header(self) -> _HdrListHead | None:
        """A header list holding ``Retry-After``, allocated from a pjsua pool."""
        lib = self._lib
        lib.pjsua_pool_create.restype = ctypes.c_void_p
        lib.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.pjsip_generic_string_hdr_create.restype = ctypes.c_void_p
        lib.pjsip_generic_string_hdr_create.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                        ctypes.c_void_p]
        self._pool = lib.pjsua_pool_create(b"overload", 512, 512)
        name, value = b"Retry-After", self._retry_after
        header = lib.pjsip_generic_string_hdr_create(
            self._pool, ctypes.byref(_PjStr(name, len(name))),
            ctypes.byref(_PjStr(value, len(value))))
        if not header:
            return None
        head = _HdrListHead()
        links = _HdrLinks.from_address(header)
        links.prev = links.next = ctypes.addressof(head)
        head.prev = head.next = header
        return head

    def unregister(self) -> None:
        if self._endpt is not None:
            self._lib.pjsip_endpt_unregister_module(ctypes.c_void_p(self._endpt),
                                                    ctypes.byref(self._module))
            self._endpt = None
        if self._pool is not None:
            self._lib.pj_pool_release(ctypes.c_void_p(self._pool))
            self._pool = None
            self._headers = None

    def _on_rx_request(self, rdata: int) -> int:
        try:
            info = self._lib.pjsip_rx_data_get_info(rdata) or b""
            if not info.startswith(b"Request msg INVITE/"):
                return 0
            if self._lib.pjsua_call_get_count() < self._capacity():
                return 0
            headers = ctypes.byref(self._headers) if self._headers is not None else None
            if self._code != 503:
                headers = None
            self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, self._code, None,
                                                    headers, None)
            self.refused += 1
            log.warning("node full (%d calls): INVITE refused with %d", self._capacity(),
                        self._code)
            return 1
        except Exception:  # never let an exception cross into C
            log.exception("overload guard failed; passing the request on")
            return 0
