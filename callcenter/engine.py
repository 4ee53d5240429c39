"""The engine node: settings, store, events, recordings and the SIP node, wired.

:class:`Engine` is what ``callcenter serve`` runs. An answered call talks
with the dialog flow (``engine.flow``; :mod:`callcenter.dialog_service`),
or, with none, hears the greeting and stays up (recorded), until either side
hangs up or ``engine.max_call_s`` passes. With ``outbound.enabled`` the node
also dials the running campaigns' due attempts (:mod:`callcenter.campaign_calls`).
Every leg is known by id in :attr:`Engine.calls`, and supervisors join them
through :attr:`Engine.supervision`.

Start: the SIP node comes up refusing every call (503) while the node
claims its name on the store (:mod:`callcenter.node_registry`), recovers the
calls of nodes that are really gone, and wires the rest; then it opens.
The human queue (:mod:`callcenter.acd_service`) is read first, so a bad
agents or queues file stops the engine before it listens: calls to the
agents' session number become agent sessions, and a flow's transfer to one
of its queues puts the caller in it.
The control API (:mod:`callcenter.api`, ``api.*`` settings) serves on the
same loop from just before the node opens until it stops.
Signals: SIGTERM drains (:meth:`Engine.drain`: new INVITEs and OPTIONS get
503, live calls get ``engine.drain_timeout_s`` to end, the rest are hung up
with BYE, recordings sealed, exit 0); a second SIGTERM or a SIGINT stops at
once. SIGUSR1 logs the status line. ``callcenter drain`` sends the SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from acd.config import AcdConfig
from callcenter.acd_service import AcdService, load_acd
from callcenter.api.context import ApiContext
from callcenter.api.server import ApiServer
from callcenter.call_journal import CallJournal
from callcenter.call_registry import CallRegistry
from callcenter.campaign_dialer import start_campaigns
from callcenter.core.call import EndReason
from callcenter.core.errors import CallGone, MediaError, SettingsError
from callcenter.core.events import Event, EventBus
from callcenter.core.settings import Settings, SipSettings
from callcenter.core.store import AsyncStore, Store
from callcenter.dialog_service import DialogService
from callcenter.events_wiring import make_event_bus
from callcenter.greeting import chime
from callcenter.node_registry import (
    NodeRegistry,
    default_node_name,
    remove_pid_file,
    write_pid_file,
)
from callcenter.recording_service import RecordingService, recover_crashed_calls
from callcenter.supervision import Supervision
from outbound.scheduler import CampaignScheduler
from sip.call import CallObserver, SipCall, load_wav_pcm
from sip.endpoint import EndpointFacts
from sip.loop_players import prepare_loop_wav
from sip.node import SipNode
from sip.recording import RecordingWriter

log = logging.getLogger(__name__)


class _NoCalls:
    """The SIP node's observer until the journal exists: it refuses every
    call then, so only refusals (counted, not journaled) could reach it."""

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        pass


class Engine:
    """One node of the call-center engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: AsyncStore | None = None
        self.bus: EventBus | None = None
        self.journal: CallJournal | None = None
        self.writer: RecordingWriter | None = None
        self.node: SipNode | None = None
        self.dialogs: DialogService | None = None
        self.acd: AcdService | None = None
        # The node's live calls by id (callcenter.call_registry), fed by the SIP node.
        self.calls = CallRegistry(settings.node.name or "")
        # Supervisors listening in (callcenter.supervision); set once the node started.
        self.supervision: Supervision | None = None
        self.facts: EndpointFacts | None = None
        # The campaign dialer (callcenter.campaign_calls), when outbound.enabled.
        self.campaigns: CampaignScheduler | None = None
        self.api: ApiServer | None = None
        self.name = settings.node.name or ""
        self.registry: NodeRegistry | None = None
        self._pid_file: Path | None = None
        self._stopping = asyncio.Event()
        self._draining = asyncio.Event()
        self._greeting: dict[int, bytes] = {}
        self._hold_wav: Path | None = None
        self._status_tasks: set[asyncio.Task[dict[str, Any]]] = set()
        # Threads for blocking work (disk, PIN hashes, agitation scoring): the
        # loop's default executor, sized as Python sizes it, but known here.
        self._workers_max = min(32, (os.cpu_count() or 1) + 4)

    async def start(self) -> EndpointFacts:
        """Open the store (migrating it), start SIP refusing calls, claim the
        node's name (SettingsError if a live node has it), recover the calls
        of gone nodes, wire the rest, then take calls."""
        s = self.settings
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(
            max_workers=self._workers_max, thread_name_prefix=_WORKER_PREFIXES[0]))
        acd_config = await asyncio.to_thread(load_acd, s.acd) if s.acd.enabled else None
        s.node.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = AsyncStore(Store(s.store_url))
        await self.store.migrate()
        # The default name is "<hostname>-<SIP port>": the port is known once
        # SIP is up, so SIP starts first, answering 503 until the node opens.
        observer: CallObserver = _NoCalls()
        self.node = SipNode(_with_session_number(s.sip, acd_config), observer, accepting=False)
        self.facts = await self.node.start()
        port = self.facts.udp_port or self.facts.tcp_port
        self.name = s.node.name or default_node_name(port or 0)
        registry = NodeRegistry(self.store.store, s.node, self.name, port)
        await asyncio.to_thread(registry.claim)
        self.registry = registry
        gone_nodes = list(await asyncio.to_thread(registry.gone_names))
        for gone in gone_nodes:
            await recover_crashed_calls(self.store, gone)
        self.bus = make_event_bus(s.events, self.name)
        await self.bus.start()
        self.journal = CallJournal(self.store, self.bus, self.name)
        self.journal.start()
        opener = None
        if s.recording.enabled:
            self.writer = RecordingWriter(s.recording.flush_interval_s)
            self.writer.start()
            recordings = RecordingService(s.recordings_dir, self.writer, self.journal,
                                          asyncio.get_running_loop())
            opener = recordings.open_for
        if s.engine.greeting is not None and not s.engine.greeting.is_file():
            raise SettingsError(f"engine.greeting: no such file {s.engine.greeting}")
        if s.engine.hold_audio is not None:
            try:
                self._hold_wav = await asyncio.to_thread(
                    prepare_loop_wav, s.engine.hold_audio, s.node.data_dir / "loops",
                    s.sip.clock_rate)
            except MediaError as exc:
                raise SettingsError(f"engine.hold_audio: {exc}") from None
        if acd_config is not None:
            self.acd = AcdService(acd_config, s, self.store, self.journal, self.node, self.name)
            await self.acd.start(gone_nodes)
        if s.engine.flow is not None:
            self.dialogs = DialogService(s, self.store, self.journal)
            self.dialogs.queues = self.acd
            await self.dialogs.start()
            if self.acd is not None:
                self.acd.voice = self.dialogs.synthesizer
                self._check_flow_queues(self.dialogs, self.acd)
        self.calls.node_name = self.name
        self.calls.acd = self.acd
        self.calls.forward = self.journal
        self.node.observer = self.calls
        self.supervision = Supervision(self.node, self.calls, self.journal, self.store,
                                       s.supervision, self.name, self.acd)
        self.node.on_incoming = self.handle_call
        self.node.recording_opener = opener
        if s.api.enabled:  # before calls come: a taken port stops the start
            self.api = ApiServer(s.api, ApiContext(
                node=self.name, store=self.store, bus=self.bus, acd=self.acd, calls=self.calls,
                supervision=self.supervision), data_dir=s.node.data_dir, node=self.name)
            await self.api.start()
        registry.start_heartbeat()
        self._pid_file = write_pid_file(s.node.data_dir, self.name)
        # Everything allocated so far lives as long as the node: keep it out of
        # the collector's full passes, which otherwise hold the GIL for 50-80 ms
        # and stall every call's audio (measured in bench/media_loop_health.py).
        gc.freeze()
        self.node.open()
        log.info("node %s taking calls", self.name)
        if s.outbound.enabled:
            self.campaigns = await start_campaigns(s, self.store, self.node, self.dialogs,
                                                   self._greeting_for, self.name, gone_nodes,
                                                   self.bus)
        await self.bus.publish(Event(kind="status", node=self.name, data={
            "status": "started", "sip_port": self.facts.udp_port or self.facts.tcp_port,
            "capacity": self.node.capacity, "pjsua2": self.facts.version}))
        return self.facts

    def _check_flow_queues(self, dialogs: DialogService, acd: AcdService) -> None:
        assert dialogs.flow is not None
        for name, queue in dialogs.flow.spec.queues.items():
            if not acd.takes(name):
                log.warning("flow %r transfers to queue %r, which %s does not define: %s",
                            dialogs.flow.name, name, self.settings.acd.queues_path,
                            f"callers go to {queue.uri}" if queue.uri else "such transfers fail")

    async def handle_call(self, call: SipCall) -> None:
        """An agent's session (the session number); otherwise answer, then run
        the flow (or greet), within engine.max_call_s."""
        if self.acd is not None and self.acd.is_session_call(call):
            await self.acd.run_session(call)
            return
        await call.ring()
        await call.answer()
        assert call.media is not None
        if self.dialogs is not None:
            try:
                await asyncio.wait_for(self.dialogs.run_call(call),
                                       self.settings.engine.max_call_s)
            except TimeoutError:
                await call.hangup(EndReason.ENGINE_HANGUP)
            return
        try:
            greeting = call.play(await self._greeting_for(call.media.clock_rate))
        except MediaError as exc:
            log.error("call %s: greeting unavailable: %s", call.id, exc)
        else:
            if self._hold_wav is not None:
                await greeting
                if not call.ended.done():
                    assert self.node is not None
                    await self.node.play_loop(call, self._hold_wav)
        try:
            await asyncio.wait_for(asyncio.shield(call.ended), self.settings.engine.max_call_s)
        except TimeoutError:
            await call.hangup(EndReason.ENGINE_HANGUP)
        except CallGone:
            pass

    async def _greeting_for(self, rate: int) -> bytes:
        if rate not in self._greeting:
            path: Path | None = self.settings.engine.greeting
            self._greeting[rate] = (await asyncio.to_thread(load_wav_pcm, path, rate)
                                    if path else chime(rate))
        return self._greeting[rate]

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop at once (SIGINT, or a second SIGTERM)."""
        self._stopping.set()

    def request_drain(self) -> None:
        """Ask :meth:`run` to drain, then stop (SIGTERM); asked again, stop now."""
        if self._draining.is_set():
            log.warning("asked to stop again while draining: stopping now")
            self._stopping.set()
        self._draining.set()

    async def run(self, on_serving: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT (stop now) or SIGTERM (drain, then stop).

        `on_serving` is called once the signal handlers are in place: a
        "ready" line printed before that would let a supervisor's SIGUSR1
        arrive first and kill the process (the signal's default action)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGTERM, self.request_drain)
        loop.add_signal_handler(signal.SIGUSR1, self._log_status_soon)
        if on_serving is not None:
            on_serving()
        try:
            stop = loop.create_task(self._stopping.wait())
            drain = loop.create_task(self._draining.wait())
            await asyncio.wait({stop, drain}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stop, drain):
                task.cancel()
            if not self._stopping.is_set():
                await self.drain()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
            await self.stop()

    async def drain(self) -> None:
        """Refuse new calls (503 to INVITE and OPTIONS) and wait up to
        ``engine.drain_timeout_s`` for live calls to end, or for a stop request."""
        node = self.node
        if node is None:
            return
        node.drain()
        if self.campaigns is not None:
            self.campaigns.stop_claiming()
        timeout = self.settings.engine.drain_timeout_s
        calls = (await node.stats()).active_calls
        log.warning("draining: refusing new calls; %d live call(s) get up to %.0f s to end",
                    calls, timeout)
        if self.bus is not None:
            await self.bus.publish(Event(kind="status", node=self.name, data={
                "status": "draining", "active_calls": calls}))
        deadline = time.monotonic() + timeout
        while calls:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("drain timeout: hanging up %d call(s)", calls)
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), min(0.5, left))
                return
            except TimeoutError:
                calls = (await node.stats()).active_calls
        log.info("drained: no live calls left")

    def _log_status_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.log_status())
        self._status_tasks.add(task)
        task.add_done_callback(self._status_tasks.discard)

    async def log_status(self) -> dict[str, Any]:
        """Log (and return) the node's resource use as one JSON line (SIGUSR1):
        also whether it drains and the INVITEs it refused, by reason and by
        source (top 10)."""
        pool_threads = sum(1 for t in threading.enumerate()
                           if t.name.startswith(_WORKER_PREFIXES))
        status: dict[str, Any] = {
            "threads": threading.active_count() - pool_threads, "pool_threads": pool_threads,
            "pool_threads_max": self._workers_max + 1, "fds": _open_fds()}
        if self.node is not None:
            stats = await self.node.stats()
            status.update(active_calls=stats.active_calls, capacity=stats.capacity,
                          conf_ports=stats.conf_ports, pooled_ports=stats.pooled_ports,
                          draining=stats.draining, refused=stats.refused,
                          refused_by_source=stats.refused_by_source,
                          options_refused=stats.options_refused)
        if self.dialogs is not None:
            status.update(self.dialogs.stats())
        log.info("node status %s", json.dumps(status, sort_keys=True))
        return status

    async def stop(self) -> None:
        """Hang up every call with BYE, seal recordings, flush the journal."""
        log.info("shutting down")
        if self.api is not None:
            await self.api.stop()
            self.api = None
        if self.supervision is not None:
            await self.supervision.close()
        if self.campaigns is not None:
            self.campaigns.stop_claiming()
        if self.node is not None:
            await self.node.stop()
            self.node = None
        if self.campaigns is not None:
            await self.campaigns.stop()  # its calls have ended: let it write their outcomes
            self.campaigns = None
        if self.acd is not None:
            self.acd.close()
        if self.dialogs is not None:
            self.dialogs.close()
        if self.journal is not None:
            await self.journal.close()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)
        if self.bus is not None:
            await self.bus.close()
        if self.registry is not None:
            await asyncio.to_thread(self.registry.stop)
            self.registry = None
        if self._pid_file is not None:
            remove_pid_file(self._pid_file)
            self._pid_file = None
        if self.store is not None:
            await self.store.close()
        log.info("stopped")


def _with_session_number(sip: SipSettings, acd: AcdConfig | None) -> SipSettings:
    """`sip` with the agents' session number among the reserved numbers (so
    agents reach the node when only reserved slots are left) and, when the
    node answers listed numbers only, among those."""
    number = acd.session.number if acd is not None else None
    if number is None:
        return sip
    update: dict[str, list[str]] = {}
    if number not in sip.reserved_numbers:
        update["reserved_numbers"] = [*sip.reserved_numbers, number]
    if sip.numbers and number not in sip.numbers:
        update["numbers"] = [*sip.numbers, number]
    return sip.model_copy(update=update) if update else sip


# Name prefixes of the worker pools' threads: the default executor, the store's.
# A pool starts a thread only when all of its threads are busy, up to its
# maximum, and keeps it: `log_status` counts them apart from the other threads.
_WORKER_PREFIXES = ("worker", "store")


def _open_fds() -> int:
    try:
        return sum(1 for _ in Path("/proc/self/fd").iterdir())
    except OSError:
        return -1
