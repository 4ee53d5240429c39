"""A SIP node: the endpoint thread, its accounts and calls, for asyncio code.

:class:`SipNode` answers nothing by itself: each offered call that passes the
node's own checks is handed to ``on_incoming`` as a :class:`SipCall`, in a
task of its own; an exception there ends that call, never the node. New
INVITEs are judged before pjsua allocates a call slot (:mod:`sip.admission`:
starting or draining, per-source rate and calls, capacity, reserved slots)
and refused with 503 and Retry-After (``busy_code`` when full); those
refusals are counted per reason and source and handed to ``on_refusals``
once a second for the journal. Offered calls are then refused on the SIP
thread for an unknown number (404); pjsua itself answers 488 to an offer
with no common codec. Answered calls that never send RTP are ended after
``first_rtp_timeout_s`` (no_media), calls whose RTP stops after
``media_timeout_s`` (media_timeout).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj

from callcenter.core.call import CallInfo, Direction, EndReason, new_call_id
from callcenter.core.errors import CallFailed, CallGone, CapacityError, SettingsError
from callcenter.core.settings import SipSettings, TrunkSettings
from sip.call import CallEnd, CallObserver, SipCall
from sip.call_gate import CallGate, address_host
from sip.conference import ConferenceOps
from sip.endpoint import EndpointFacts, conf_ports_in_use, create_endpoint
from sip.leg_audio import LegAudio, PortPool, RecordingSink
from sip.loop_players import LoopPlayers
from sip.media_port import clock_thread_id
from sip.media_priority import MediaPriority
from sip.media_pump import MediaPump
from sip.pj_call import PjCall
from sip.rx_data import header_value, strip_tag
from sip.sip_thread import SipThread
from sip.sip_uri import request_uri_user, trunk_target

log = logging.getLogger(__name__)

MEDIA_SWITCH_INTERVAL_S = 0.0005

IncomingHandler = Callable[[SipCall], Awaitable[None]]
RecordingOpener = Callable[[SipCall, int], RecordingSink | None]


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, node: SipNode, name: str) -> None:
        super().__init__()
        self.node = node
        self.name = name

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802 (pjsua2 name)
        self.node._offered(self, prm)

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        log.info("trunk %s registration: %s %s", self.name, prm.code, prm.reason)


@dataclass(frozen=True)
class NodeStats:
    """Resource use of a node, for status pages and leak checks."""

    active_calls: int
    capacity: int
    conf_ports: int
    pooled_ports: int
    draining: bool = False
    refused: dict[str, int] = field(default_factory=dict)  # INVITEs, by reason
    refused_by_source: dict[str, int] = field(default_factory=dict)  # top sources
    options_refused: int = 0


class SipNode(ConferenceOps):
    """The pjsua2 endpoint and its calls, driven from asyncio."""

    def __init__(self, settings: SipSettings, observer: CallObserver,
                 on_incoming: IncomingHandler | None = None,
                 recording_opener: RecordingOpener | None = None,
                 accepting: bool = True) -> None:
        """With ``accepting=False`` the node answers every INVITE and
        OPTIONS 503 until :meth:`open` (for work the owner does first)."""
        self.settings = settings
        self.observer = observer
        self.on_incoming = on_incoming
        self.recording_opener = recording_opener
        self.loop = asyncio.get_running_loop()
        self.thread = SipThread()
        self.media_pump = MediaPump()
        self.media_priority = MediaPriority(settings.realtime_media,
                                            lambda: (clock_thread_id(),))
        self.port_pool = PortPool(self.media_pump)
        self.loop_players = LoopPlayers()
        self.clock_rate = settings.clock_rate
        self.facts: EndpointFacts | None = None
        self.capacity = 0
        self._ep: Any = None
        self._keep: list[Any] = []
        self._accounts: dict[str, _Account] = {}
        self._calls: dict[int, PjCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.gate = CallGate(self, settings, accepting)

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> EndpointFacts:
        """Start the SIP thread, the endpoint, transports and accounts.

        Also shortens the interpreter's GIL switch interval to 0.5 ms: the
        media pump and the SIP thread take and release the GIL many times a
        tick (ctypes calls), and with the default 5 ms one busy Python thread
        starved them (measured with per-frame up-calls: 285 of 500 packets
        sent).
        """
        sys.setswitchinterval(min(sys.getswitchinterval(), MEDIA_SWITCH_INTERVAL_S))
        self.media_pump.start()
        self.thread.start()
        try:
            facts = await self.thread.run(self._start_on_thread)
        except BaseException:
            self.thread.stop()
            self.media_pump.stop()
            raise
        self.facts = facts
        if self.settings.max_calls > facts.max_calls:
            log.warning("sip.max_calls=%d but this pjsua2 build allows %d calls per process; "
                        "using %d", self.settings.max_calls, facts.max_calls, self.capacity)
        log.info("pjsua2 %s: %d calls per process, %d conference ports; listening on "
                 "%s udp=%s tcp=%s", facts.version, facts.max_calls, facts.max_conf_ports,
                 facts.host, facts.udp_port, facts.tcp_port)
        if self.gate.admission is not None:
            policy = self.gate.admission.policy
            log.info("admission: %d caller slots + %d reserved; per untrusted source %s "
                     "INVITEs/s (burst %d), %s calls; trusted %s", policy.caller_slots,
                     policy.reserved, policy.rate or "unlimited", policy.burst,
                     policy.per_source_calls or "unlimited",
                     [str(n) for n in policy.trusted])
        return facts

    def open(self) -> None:
        """Start taking calls (a node made with ``accepting=False``)."""
        self.gate.open()

    def drain(self) -> None:
        """Refuse new INVITEs and OPTIONS with 503 from now on; live calls
        and calls the engine dials go on."""
        self.gate.drain()

    @property
    def draining(self) -> bool:
        return self.gate.draining

    def call_count(self) -> int:
        """Calls holding a pjsua slot now (SIP thread)."""
        return len(self._calls)

    def _start_on_thread(self) -> EndpointFacts:
        self._ep, facts, self._keep = create_endpoint(self.settings, self._refused_by_pjsua)
        self._add_account("local", f"sip:{self.settings.local_user}@"
                          f"{facts.host}:{facts.udp_port or facts.tcp_port}", default=True)
        for trunk in self.settings.trunks:
            # Register under the login name (providers match it against the
            # credentials); calls go out from a second, unregistered account
            # whose address is the caller ID, so it is each INVITE's From.
            # (pjsua2 2.12 has no per-call From; this works on every build.)
            login = trunk_target(trunk.username or trunk.caller_id or "anonymous", trunk)
            self._add_trunk_account(trunk, trunk.name, login, trunk.registration)
            if trunk.caller_id:
                caller_id = trunk_target(trunk.caller_id, trunk)
                if caller_id != login:
                    self._add_trunk_account(trunk, _dial_account(trunk.name), caller_id, False)
        self.capacity = min(self.settings.max_calls, facts.max_calls)
        self.gate.install(self.capacity)
        ep = self._ep
        self.thread.set_poller(lambda: ep.libHandleEvents(5))
        self.thread.every(1.0, self._watch_media)
        return facts

    def _add_trunk_account(self, trunk: TrunkSettings, name: str, id_uri: str,
                           register: bool) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = id_uri
        cfg.regConfig.registrarUri = trunk.registrar
        cfg.regConfig.registerOnAdd = register
        if trunk.proxy:
            cfg.sipConfig.proxies.append(trunk.proxy)
        if trunk.username:
            cfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", trunk.realm, trunk.username, 0, trunk.password))
        self._configure_media(cfg)
        account = _Account(self, trunk.name)
        account.create(cfg)
        self._accounts[name] = account

    def _add_account(self, name: str, id_uri: str, default: bool = False) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = id_uri
        self._configure_media(cfg)
        account = _Account(self, name)
        account.create(cfg, default)
        self._accounts[name] = account

    def _configure_media(self, cfg: Any) -> None:
        cfg.mediaConfig.transportConfig.port = self.settings.rtp_port
        cfg.mediaConfig.transportConfig.portRange = self.settings.rtp_port_range
        if self.settings.public_address:
            cfg.mediaConfig.transportConfig.publicAddress = self.settings.public_address
        elif self.settings.host not in ("", "0.0.0.0"):
            cfg.mediaConfig.transportConfig.boundAddress = self.settings.host

    async def stop(self, timeout: float = 5.0) -> None:
        """Hang up every call with BYE, then destroy the endpoint cleanly."""
        if self._ep is None:
            return
        calls = [c.sip_call for c in self._calls.values()]
        for call in calls:
            call.hangup_reason = call.hangup_reason or EndReason.SHUTDOWN
        await self.thread.run(self._ep.hangupAllCalls)
        if calls:
            await asyncio.wait([c.ended for c in calls], timeout=timeout)
        await asyncio.sleep(0.1)  # let the SIP thread drop its references
        for task in list(self._tasks):
            task.cancel()
        await self.thread.run(self._destroy_on_thread)
        self.thread.stop()
        self.media_pump.stop()
        self._ep = None

    def _destroy_on_thread(self) -> None:
        self.thread.set_poller(None)
        for call in list(self._calls.values()):
            if call.leg is not None:
                call.leg.detach([])
        self._calls.clear()
        self.gate.clear()
        # Stop the conference clock before any port is deleted (see PortPool).
        self._ep.audDevManager().setNoDev()
        self._keep.extend(self.port_pool.destroy())
        self.loop_players.destroy()
        # The admission module stays registered through libDestroy, so that
        # INVITEs and OPTIONS arriving meanwhile get 503, not pjsua's 480;
        # pjsip unloads it as the endpoint goes (OverloadGuard._on_unload).
        self.gate.drain()
        for account in self._accounts.values():
            account.shutdown()
        self._accounts.clear()
        self._ep.libDestroy()
        self._keep.clear()

    # -- incoming (SIP thread) -------------------------------------------------
    def _offered(self, account: _Account, prm: Any) -> None:
        message = str(prm.rdata.wholeMsg)
        info = CallInfo(call_id=new_call_id(), direction=Direction.INBOUND,
                        from_uri=strip_tag(header_value(message, ("From", "f"))),
                        to_uri=message.split(" ", 2)[1] if " " in message else "",
                        sip_call_id=header_value(message, ("Call-ID", "i")))
        sip_call = SipCall(info, self.thread, self.loop, self.observer,
                           transfer_timeout_s=self.settings.transfer_timeout_s)
        call = PjCall(self, account, sip_call, prm.callId)
        sip_call.bind(call)
        self._calls[call.getId()] = call
        self.gate.call_added(call.getId(), address_host(str(prm.rdata.srcAddress)))
        self.loop.call_soon_threadsafe(self.observer.on_call_event, sip_call, "offered",
                                       {"from": info.from_uri, "to": info.to_uri})
        numbers = self.settings.numbers
        if numbers and request_uri_user(info.to_uri) not in numbers:
            call.respond(404, "Not Found")
        elif len(self._calls) > self.capacity:
            call.respond(self.settings.busy_code)
        elif self.on_incoming is None:
            call.respond(480, "Temporarily Unavailable")
        else:
            self.loop.call_soon_threadsafe(self._spawn, sip_call)

    def _refused_by_pjsua(self, prm: Any) -> None:
        """SIP thread: an INVITE pjsua answered itself (486 at its call limit,
        for instance); journal it like any refused call."""
        message = str(prm.rdata.wholeMsg)
        info = CallInfo(call_id=new_call_id(), direction=Direction.INBOUND,
                        from_uri=strip_tag(str(prm.remoteInfo)),
                        to_uri=message.split(" ", 2)[1] if " " in message else "",
                        sip_call_id=header_value(message, ("Call-ID", "i")))
        code, text = int(prm.statusCode), str(prm.reason)
        log.warning("INVITE from %s refused by pjsua: %d %s", info.from_uri, code, text)

        def journal() -> None:
            call = SipCall(info, self.thread, self.loop, self.observer)
            self.observer.on_call_event(call, "offered", {"from": info.from_uri,
                                                          "to": info.to_uri})
            call.hangup_reason = EndReason.REJECTED
            call._on_ended(CallEnd(EndReason.REJECTED, code, text))

        self.loop.call_soon_threadsafe(journal)

    def _spawn(self, call: SipCall) -> None:
        assert self.on_incoming is not None
        task = self.loop.create_task(self._run_handler(call, self.on_incoming))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, call: SipCall, handler: IncomingHandler) -> None:
        try:
            await handler(call)
        except asyncio.CancelledError:
            raise
        except CallGone:
            log.debug("call %s ended while its handler was busy", call.id)
        except Exception:
            log.exception("call %s: handler failed; ending the call", call.id)
            await call.hangup(EndReason.ENGINE_HANGUP)

    def _call_disconnected(self, call: PjCall) -> None:
        """SIP thread, inside the DISCONNECTED callback: leave the bridge and
        drop the node's reference, so the pjsua2 object is destroyed as the
        callback returns (pjsua2's ``delete this`` pattern). Destroying it any
        later is wrong: pjsua may already have given its call slot to a new
        INVITE, and ``~Call`` would hang that one up."""
        if call.leg is not None:
            call.leg.detach(self.legs(), stream_removed=True)
        for call_id, known in list(self._calls.items()):
            if known is call:
                del self._calls[call_id]
                self.gate.call_removed(call_id)

    def legs(self) -> list[LegAudio]:
        """The bridge legs of the node's calls (SIP thread)."""
        return [c.leg for c in self._calls.values() if c.leg is not None]

    def recording_for(self, call: SipCall, clock_rate: int) -> RecordingSink | None:
        """The recording sink of a call whose media just started (SIP thread)."""
        return self.recording_opener(call, clock_rate) if self.recording_opener else None

    def _watch_media(self) -> None:
        """SIP thread, once a second: end calls that hold a slot without RTP,
        and give a new pjmedia clock thread its real-time priority.

        An inbound call that never sent RTP gets ``first_rtp_timeout_s``
        (no_media); one whose RTP stopped gets ``media_timeout_s``
        (media_timeout), as do calls without RTP that the first check spares:
        legs the engine dialled (an agent's phone may suppress silence) and
        every call when it is off."""
        if self._calls:
            self.media_priority.apply()
        now = time.monotonic()
        timeout = self.settings.media_timeout_s
        for call in list(self._calls.values()):
            if call.sip_call.hangup_reason is not None:
                continue  # already being ended
            silent = call.media_silent_for(now)
            first_rtp = (self.settings.first_rtp_timeout_s
                         if call.sip_call.info.direction == Direction.INBOUND else 0.0)
            if first_rtp > 0 and call.no_rtp_for(now) > first_rtp:
                log.warning("call %s: no RTP at all %.0f s after its media started; ending it",
                            call.sip_call.id, first_rtp)
                call.sip_call.hangup_reason = EndReason.NO_MEDIA
                call.end()
            elif silent > timeout and (call.rtp_seen or first_rtp <= 0):
                log.warning("call %s: no RTP for %.0f s; ending it", call.sip_call.id, timeout)
                call.sip_call.hangup_reason = EndReason.MEDIA_TIMEOUT
                call.end()

    # -- outgoing ----------------------------------------------------------------
    async def dial(self, uri: str, *, trunk: str | None = None,
                   ring_timeout: float | None = None, use_reserved: bool = True) -> SipCall:
        """Dial `uri` (a SIP URI, or a number when a `trunk` is named) and
        wait for the answer. Raises :class:`CallFailed` with the SIP code
        (``reason`` busy/no answer/failed) or :class:`CapacityError`.

        Legs the engine needs for a conversation (agents, supervisors) may
        take the slots reserved for them; pass ``use_reserved=False`` for
        calls that are new conversations (campaign calls), which may not.
        Cancelling the dial while it rings hangs up (CANCEL) the call."""
        account_name = trunk or "local"
        if account_name not in self._accounts:
            raise SettingsError(f"unknown trunk {trunk!r}; configured: "
                                f"{[t.name for t in self.settings.trunks]}")
        if trunk is not None:
            trunk_settings = next(t for t in self.settings.trunks if t.name == trunk)
            uri = trunk_target(uri, trunk_settings)
            account_name = _dial_account(trunk) if _dial_account(trunk) in self._accounts else (
                trunk)
        info = CallInfo(call_id=new_call_id(), direction=Direction.OUTBOUND,
                        from_uri="", to_uri=uri)
        sip_call = SipCall(info, self.thread, self.loop, self.observer,
                           transfer_timeout_s=self.settings.transfer_timeout_s)

        def make() -> None:
            limit = self.capacity
            if not use_reserved and self.gate.admission is not None:
                limit = self.gate.admission.policy.caller_slots
            if len(self._calls) >= limit:
                raise CapacityError(f"node is at its limit of {limit} calls"
                                    + ("" if limit == self.capacity else
                                       " (the rest are reserved for agents)"))
            account = self._accounts[account_name]
            call = PjCall(self, account, sip_call)
            prm = pj.CallOpParam(True)
            try:
                call.makeCall(uri, prm)
            except pj.Error as exc:
                raise CallFailed(f"cannot dial {uri}: {exc.reason}", None) from None
            sip_call.bind(call)
            self._calls[call.getId()] = call
            info.from_uri = str(account.getInfo().uri)
            info.sip_call_id = str(call.getInfo().callIdString)
            # Queued from here, so the loop hears "dialing" before any news the
            # SIP thread sends about the call (a loopback peer answers at once).
            self.loop.call_soon_threadsafe(self.observer.on_call_event, sip_call,
                                           "dialing", {"to": uri})

        await self.thread.run(make)
        timeout = ring_timeout or self.settings.ring_timeout_s
        try:
            await asyncio.wait_for(asyncio.shield(sip_call.answered), timeout)
        except TimeoutError:
            sip_call.hangup_reason = EndReason.NO_ANSWER
            await sip_call.hangup(EndReason.NO_ANSWER)
            end = await asyncio.wait_for(asyncio.shield(sip_call.ended), 10)
            raise CallFailed(f"no answer from {uri} within {timeout:.0f} s", 408,
                             call_id=sip_call.id) from None
        except asyncio.CancelledError:
            # The dialler gave up (its caller left): stop the ringing (CANCEL).
            await asyncio.shield(sip_call.hangup(EndReason.ENGINE_HANGUP))
            raise
        except Exception:
            end = await asyncio.wait_for(asyncio.shield(sip_call.ended), 10)
            raise CallFailed(f"{uri}: {end.reason} ({end.sip_code} {end.text})",
                             end.sip_code, call_id=sip_call.id) from None
        await asyncio.wait_for(asyncio.shield(sip_call.media_ready), 10)
        return sip_call

    # -- introspection -------------------------------------------------------------
    async def stats(self) -> NodeStats:
        """Calls and conference ports in use (for leak checks and status)."""
        def job() -> NodeStats:
            return NodeStats(active_calls=len(self._calls), capacity=self.capacity,
                             conf_ports=conf_ports_in_use(), pooled_ports=self.port_pool.size,
                             draining=self.gate.draining, refused=self.gate.tally.by_reason(),
                             refused_by_source=self.gate.tally.by_source(),
                             options_refused=self.gate.options_refused)

        return await self.thread.run(job)

    async def wait_ended(self, call: SipCall, timeout: float = 10) -> CallEnd:
        return await asyncio.wait_for(asyncio.shield(call.ended), timeout)


def _dial_account(trunk: str) -> str:
    """The name of a trunk's unregistered account for dialling out."""
    return f"{trunk}/dial"
