"""Creating and configuring the pjsua2 `Endpoint` (on the SIP thread).

Choices made here, each for a reason measured or seen in DESIGN.md:
no sound device (a server has none), silence suppression off (trunks drop
calls without RTP), no echo canceller (no acoustic echo on a trunk), the
conference bridge clocked at the calls' rate, codecs limited to the
configured list in its order, G.722 at G.711's loudness (pjmedia's PCM
level shift set as spandsp's: sip/g722_levels.py), and pjsip's log routed
to Python logging.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj
import pjsua2._pjsua2 as _pjsua2_lib

from callcenter.core.errors import SettingsError
from callcenter.core.settings import SipSettings
from sip.g722_levels import set_g722_pcm_shift

log = logging.getLogger("sip.pjsip")

CODEC_IDS = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1"}
WANTED_MAX_CALLS = 1024  # ask for many; the build clamps to what it supports
PORT_ZERO_ATTEMPTS = 5  # sip.port 0: tries at a port free for both UDP and TCP


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    def write(self, entry: Any) -> None:
        level = int(entry.level)
        py_level = logging.ERROR if level <= 1 else logging.WARNING if level == 2 else (
            logging.DEBUG)
        log.log(py_level, "%s", str(entry.msg).rstrip())


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    """Reports INVITEs that pjsua refused before any account saw them
    (at its compiled-in call limit it answers 486 "Too many calls" itself)."""

    def __init__(self, on_rejected: Callable[[Any], None]) -> None:
        super().__init__()
        self._on_rejected = on_rejected

    def onRejectedIncomingCall(self, prm: Any) -> None:  # noqa: N802 (pjsua2 name)
        self._on_rejected(prm)


@dataclass(frozen=True)
class EndpointFacts:
    """What the running endpoint can do, probed after start."""

    version: str
    max_calls: int
    max_conf_ports: int
    udp_port: int | None
    tcp_port: int | None
    host: str


def create_endpoint(settings: SipSettings, on_rejected: Callable[[Any], None]
                    ) -> tuple[Any, EndpointFacts, list[Any]]:
    """Create, configure and start the endpoint. SIP thread only.

    `on_rejected` receives pjsua's ``OnRejectedIncomingCallParam`` for calls
    it refused itself. Returns the endpoint, the probed facts and objects
    that must stay referenced until ``libDestroy`` (the log writer).
    """
    _lib().pj_log_set_level(0)  # quiet until our log writer is installed
    ep = _Endpoint(on_rejected)
    try:
        ep.libCreate()
        cfg = pj.EpConfig()
        ua = cfg.uaConfig
        ua.maxCalls = WANTED_MAX_CALLS
        ua.threadCnt = 0
        ua.mainThreadOnly = False
        ua.userAgent = settings.user_agent
        writer = _LogWriter()
        cfg.logConfig.writer = writer
        # pjsua hands the writer what passes consoleLevel: both the same.
        level = 4 if log.isEnabledFor(logging.DEBUG) else 2
        cfg.logConfig.level = level
        cfg.logConfig.consoleLevel = level
        cfg.logConfig.decor = 0
        med = cfg.medConfig
        med.clockRate = settings.clock_rate
        med.sndClockRate = settings.clock_rate
        med.noVad = True
        med.ecTailLen = 0
        med.ptime = 20
        med.threadCnt = 1
        med.hasIoqueue = True
        med.jbMaxPre = settings.jitter_buffer_prefetch_ms
        med.jbMax = settings.jitter_buffer_max_ms
        ep.libInit(cfg)
        set_g722_pcm_shift()  # G.722 as loud as G.711 (sip/g722_levels.py)
        ep.audDevManager().setNullDev()

        udp_port, tcp_port = _open_transports(ep, settings)
        _set_codecs(ep, settings.codecs)
        ep.libStart()
        facts = EndpointFacts(version=str(ep.libVersion().full), max_calls=_probe_max_calls(),
                              max_conf_ports=_probe_conf_ports(),
                              udp_port=udp_port, tcp_port=tcp_port,
                              host=settings.public_address or settings.host)
    except BaseException:
        ep.libDestroy()  # leave no half-started endpoint behind
        raise
    return ep, facts, [writer]


def _open_transports(ep: Any, settings: SipSettings) -> tuple[int | None, int | None]:
    """Open the configured transports on one port; return (udp, tcp) ports.

    With ``sip.port: 0`` the first transport takes any free port and the
    others must share it; another process may hold that number for the
    other protocol (an outgoing TCP connection's local port, say), so the
    choice is tried again a few times before giving up.
    """
    attempts = PORT_ZERO_ATTEMPTS if settings.port == 0 else 1
    for attempt in range(1, attempts + 1):
        opened: dict[str, tuple[int, int]] = {}  # kind → (transport id, port)
        port = settings.port
        try:
            for kind in settings.transports:
                tid = _create_transport(ep, settings, kind, port)
                port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
                opened[kind] = (tid, port)  # the others share the port chosen first
        except SettingsError:
            for tid, _ in opened.values():
                ep.transportClose(tid)
            if attempt == attempts or not opened:
                raise  # a first transport that fails (sip.host) fails again
            log.info("SIP port %s taken for another transport; choosing again", port)
            continue
        return (opened["udp"][1] if "udp" in opened else None,
                opened["tcp"][1] if "tcp" in opened else None)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _create_transport(ep: Any, settings: SipSettings, kind: str, port: int) -> int:
    tcfg = pj.TransportConfig()
    tcfg.port = port
    if settings.host not in ("", "0.0.0.0"):
        tcfg.boundAddress = settings.host
    if settings.public_address:
        tcfg.publicAddress = settings.public_address
    ttype = pj.PJSIP_TRANSPORT_UDP if kind == "udp" else pj.PJSIP_TRANSPORT_TCP
    try:
        return int(ep.transportCreate(ttype, tcfg))
    except pj.Error as exc:
        raise SettingsError(
            f"cannot open SIP {kind.upper()} on {settings.host}:{port} "
            f"(settings sip.host, sip.port): {exc.reason}") from None


def _set_codecs(ep: Any, wanted: list[str]) -> None:
    priority = {CODEC_IDS[name]: 250 - 10 * i for i, name in enumerate(wanted)}
    for codec in ep.codecEnum2():
        codec_id = str(codec.codecId)
        ep.codecSetPriority(codec_id, priority.get(codec_id, 0))


def _lib() -> ctypes.CDLL:
    return ctypes.CDLL(_pjsua2_lib.__file__)


def _probe_max_calls() -> int:
    """Calls per process the imported pjsua2 really allows (after clamping)."""
    fn = _lib().pjsua_call_get_max_count
    fn.restype = ctypes.c_uint
    return int(fn())


def _probe_conf_ports() -> int:
    fn = _lib().pjsua_conf_get_max_ports
    fn.restype = ctypes.c_uint
    return int(fn())


def conf_ports_in_use() -> int:
    """Conference ports currently registered (for leak checks)."""
    fn = _lib().pjsua_conf_get_active_ports
    fn.restype = ctypes.c_uint
    return int(fn())
