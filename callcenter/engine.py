"""The engine node: settings, store, events, recordings and the SIP node, wired.

:class:`Engine` is what ``callcenter serve`` runs. Until dialog flows land,
an answered call hears the greeting and stays up (recorded) until the caller
hangs up or ``engine.max_call_s`` passes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from callcenter.call_journal import CallJournal
from callcenter.core.call import EndReason
from callcenter.core.errors import CallGone, MediaError, SettingsError
from callcenter.core.events import Event, EventBus
from callcenter.core.settings import Settings
from callcenter.core.store import AsyncStore, Store
from callcenter.dialog_service import DialogService
from callcenter.events_wiring import make_event_bus
from callcenter.greeting import chime
from callcenter.recording_service import RecordingService, recover_crashed_calls
from sip.call import SipCall, load_wav_pcm
from sip.endpoint import EndpointFacts
from sip.loop_players import prepare_loop_wav
from sip.node import SipNode
from sip.recording import RecordingWriter

log = logging.getLogger(__name__)


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
        self.facts: EndpointFacts | None = None
        self._stopping = asyncio.Event()
        self._greeting: dict[int, bytes] = {}
        self._hold_wav: Path | None = None
        self._status_tasks: set[asyncio.Task[dict[str, Any]]] = set()

    async def start(self) -> EndpointFacts:
        """Open the store (migrating it), recover from a crash, start SIP."""
        s = self.settings
        s.node.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = AsyncStore(Store(s.store_url))
        await self.store.migrate()
        await recover_crashed_calls(self.store, s.node.name)
        self.bus = make_event_bus(s.events, s.node.name)
        await self.bus.start()
        self.journal = CallJournal(self.store, self.bus, s.node.name)
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
        if s.engine.flow is not None:
            self.dialogs = DialogService(s, self.store, self.journal)
            await self.dialogs.start()
        self.node = SipNode(s.sip, self.journal, self.handle_call, opener)
        self.facts = await self.node.start()
        # Everything allocated so far lives as long as the node: keep it out of
        # the collector's full passes, which otherwise hold the GIL for 50-80 ms
        # and stall every call's audio (measured in bench/media_loop_health.py).
        gc.freeze()
        await self.bus.publish(Event(kind="status", node=s.node.name, data={
            "status": "started", "sip_port": self.facts.udp_port or self.facts.tcp_port,
            "capacity": self.node.capacity, "pjsua2": self.facts.version}))
        return self.facts

    async def handle_call(self, call: SipCall) -> None:
        """Answer, then run the flow (or greet), within engine.max_call_s."""
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
        """Ask :meth:`run` to return (signal handlers call this)."""
        self._stopping.set()

    async def run(self) -> None:
        """Serve until SIGINT/SIGTERM, then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGUSR1, self._log_status_soon)
        try:
            await self._stopping.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
            await self.stop()

    def _log_status_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.log_status())
        self._status_tasks.add(task)
        task.add_done_callback(self._status_tasks.discard)

    async def log_status(self) -> dict[str, Any]:
        """Log (and return) the node's resource use as one JSON line (SIGUSR1):
        also whether it drains and the INVITEs it refused, by reason and by
        source (top 10)."""
        status: dict[str, Any] = {"threads": threading.active_count(), "fds": _open_fds()}
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
        if self.node is not None:
            await self.node.stop()
            self.node = None
        if self.dialogs is not None:
            self.dialogs.close()
        if self.journal is not None:
            await self.journal.close()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)
        if self.bus is not None:
            await self.bus.close()
        if self.store is not None:
            await self.store.close()
        log.info("stopped")


def _open_fds() -> int:
    try:
        return sum(1 for _ in Path("/proc/self/fd").iterdir())
    except OSError:
        return -1
