"""A PJSIP module that refuses new calls and OPTIONS before pjsua sees them.

pjsua2 offers no hook early enough: at its compiled-in call limit pjsua
answers a new INVITE 486 "Busy Here" itself, and by the time
``onIncomingCall`` runs a call slot is already allocated. So this module
registers a plain PJSIP module (the public ``pjsip_module`` struct, through
ctypes, from the symbols the pjsua2 library exports) at a priority just
above pjsua's own modules. It sees only out-of-dialog requests (in-dialog
ones are consumed by the UA layer first). For each initial INVITE and each
OPTIONS it asks a `judge` (on the SIP thread, with the request's source and
text read by :class:`sip.rx_data.RxDataReader`); a verdict is answered
statelessly, 503 with ``Retry-After``; anything else passes through to
pjsua untouched (OPTIONS then gets pjsua's 200 with Allow and Accept).

The module stays registered until ``libDestroy``: while pjsua shuts down
(about a second) it would answer 480 to everything; the judge keeps
answering 503 instead. pjsip unloads the module as it destroys the endpoint,
and the module's ``unload`` callback releases its pool then.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

import pjsua2._pjsua2 as _pjsua2_lib

from sip.rx_data import RxDataReader, RxRequest

log = logging.getLogger(__name__)

_PRIORITY = 63  # PJSIP_MOD_PRIORITY_APPLICATION (64) - 1: before pjsua's call module
_RX_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_UNLOAD_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int)
_ANY_CALLBACK = ctypes.c_void_p
_JUDGED = {b"INVITE": "INVITE", b"OPTIONS": "OPTIONS"}

# (SIP code, reason phrase) to answer, or None to let pjsua handle the request.
Verdict = tuple[int, str] | None
# Called on the SIP thread with the method and the request (None if this
# pjsip build's rx_data could not be read).
Judge = Callable[[str, RxRequest | None], Verdict]


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
        ("unload", _UNLOAD_CALLBACK),
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
    """The PJSIP module answering the `judge`'s verdicts on INVITE and OPTIONS.

    Register on the SIP thread after ``libStart``; pjsip unregisters it in
    ``libDestroy`` (or call :meth:`unregister` before that).
    """

    def __init__(self, judge: Judge, retry_after_s: int = 5) -> None:
        self._judge = judge
        self._lib = ctypes.CDLL(_pjsua2_lib.__file__)
        self._lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        self._lib.pjsip_endpt_respond_stateless.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p]
        self.reader = RxDataReader(self._lib)
        self._name = b"mod-callcenter-admission"
        self._retry_after = str(retry_after_s).encode()
        self._headers: _HdrListHead | None = None
        self._phrases: dict[str, tuple[bytes, _PjStr]] = {}
        self._pool: int | None = None
        # Kept alive with the module: pjsip holds these function pointers.
        self._rx_callback = _RX_CALLBACK(self._on_rx_request)
        self._unload_callback = _UNLOAD_CALLBACK(self._on_unload)
        self._module = _PjsipModule(name=_PjStr(self._name, len(self._name)), id=-1,
                                    priority=_PRIORITY, on_rx_request=self._rx_callback,
                                    unload=self._unload_callback)
        self._endpt: int | None = None

    @property
    def registered(self) -> bool:
        return self._endpt is not None

    def register(self) -> None:
        endpt = self._lib.pjsua_get_pjsip_endpt()
        status = self._lib.pjsip_endpt_register_module(ctypes.c_void_p(endpt),
                                                       ctypes.byref(self._module))
        if status != 0:
            log.warning("admission module not installed (pjsip status %d): pjsua will answer "
                        "486 at its call limit and no source limits apply", status)
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
        self._pool = lib.pjsua_pool_create(b"admission", 512, 512)
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
        """Unregister now (SIP thread); pjsip calls :meth:`_on_unload`."""
        if self._endpt is not None:
            self._lib.pjsip_endpt_unregister_module(ctypes.c_void_p(self._endpt),
                                                    ctypes.byref(self._module))

    def _on_unload(self) -> int:
        self._endpt = None
        self._headers = None
        if self._pool is not None:
            self._lib.pj_pool_release(ctypes.c_void_p(self._pool))
            self._pool = None
        return 0

    def _phrase(self, text: str) -> _PjStr:
        known = self._phrases.get(text)
        if known is None:
            raw = text.encode()
            known = self._phrases[text] = (raw, _PjStr(raw, len(raw)))
        return known[1]

    def _on_rx_request(self, rdata: int) -> int:
        try:
            info = self.reader.info(rdata)
            if not info.startswith(b"Request msg "):
                return 0
            method = _JUDGED.get(info[12:].split(b"/", 1)[0])
            if method is None:
                return 0
            verdict = self._judge(method, self.reader.read(rdata))
            if verdict is None:
                return 0
            code, phrase = verdict
            headers = (ctypes.byref(self._headers)
                       if code == 503 and self._headers is not None else None)
            self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, code,
                                                    ctypes.byref(self._phrase(phrase)),
                                                    headers, None)
            return 1
        except Exception:  # never let an exception cross into C
            log.exception("admission module failed; passing the request on")
            return 0
