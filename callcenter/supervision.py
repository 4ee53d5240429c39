"""Supervisors listening in, whispering and barging into live calls (``engine.supervision``).

    info = await engine.supervision.start(call_id, "listen", supervisor="1009",
                                          phone="sip:desk9@10.0.0.9")   # rings, then joined
    await engine.supervision.change_mode(info.monitor_id, "barge")
    await engine.supervision.stop(info.monitor_id)                    # final MonitorInfo
    engine.supervision.active()                                       # list[MonitorInfo]

This is what the control API calls; it knows nothing of HTTP. Modes, the
record (:class:`callcenter.monitoring.MonitorInfo`) and the typed errors to
map to HTTP codes are in :mod:`callcenter.monitoring`.

`start` takes the call's id or an id prefix (an agent session's id means the
caller it is talking to). With a `phone`, the engine rings it (at most
``supervision.ring_timeout_s``) and `start` returns once it answered and was
joined; an unanswered phone raises SupervisorNoAnswer with the SIP code.
Without one, a supervisor (``supervisor: true`` in the agents file) logged
in to an agent session listens on that session, made not ready meanwhile;
one without a session is rung on the phone of their agents entry.

While joined, each monitor follows the call every ``supervision.recheck_s``:
an agent bridged to the caller (from a session or rung on demand) is heard,
and hears the supervisor when the mode says so, from then on; an agent who
leaves is dropped (a whisper then reaches nobody until an agent is back).
The supervisor's leg ends when the call ends; the call goes on when the
supervisor hangs up or is stopped. Every monitor is a ``supervision_audit``
row and ``monitor`` call events on the monitored call (``action``:
requested, joined, mode, ended), all written through the call journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callcenter.call_journal import CallJournal
from callcenter.call_registry import Activity, CallRegistry
from callcenter.core.call import utcnow
from callcenter.core.errors import CallFailed, CallGone
from callcenter.core.settings import SupervisionSettings
from callcenter.core.store import AsyncStore
from callcenter.monitoring import (
    CallNotFound,
    ModeNotPossible,
    MonitorEnd,
    MonitorInfo,
    MonitorMode,
    MonitorNotFound,
    SupervisionError,
    SupervisorNoAnswer,
    SupervisorUnavailable,
)
from callcenter.supervision_routes import plan_routes
from callcenter.supervisor_leg import SessionSeat, check_supervisor, ring_supervisor
from sip.call import SipCall
from sip.conference import LegRoute
from sip.node import SipNode

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)

_NOT_MONITORABLE = {
    Activity.RINGING: "is not answered yet",
    Activity.SUPERVISOR: "is a supervisor's leg",
}


@dataclass(eq=False)
class _Monitor:
    info: MonitorInfo
    caller: SipCall
    leg: SipCall | None = None
    seat: SessionSeat | None = None
    agents: list[SipCall] = field(default_factory=list)  # routed now
    parties: list[SipCall] = field(default_factory=list)  # every leg ever routed
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end: MonitorEnd = MonitorEnd.STOPPED
    task: asyncio.Task[None] | None = None


def _mode(mode: MonitorMode | str) -> MonitorMode:
    try:
        return MonitorMode(mode)
    except ValueError:
        raise ModeNotPossible(f"unknown mode {mode!r}; expected one of "
                              f"{', '.join(m.value for m in MonitorMode)}") from None


class Supervision:
    """The node's monitors; every method runs on the event loop."""

    def __init__(self, node: SipNode, calls: CallRegistry, journal: CallJournal,
                 store: AsyncStore, settings: SupervisionSettings, node_name: str,
                 acd: AcdService | None = None) -> None:
        self.node = node
        self.calls = calls
        self.journal = journal
        self.store = store
        self.settings = settings
        self.node_name = node_name
        self.acd = acd
        self._monitors: dict[str, _Monitor] = {}

    # -- the contract ------------------------------------------------------------------
    def active(self) -> list[MonitorInfo]:
        """Every monitor not ended yet (ringing or joined), oldest first."""
        return [m.info for m in self._monitors.values()]

    def get(self, monitor_id: str) -> MonitorInfo:
        """One active monitor (MonitorNotFound)."""
        return self._monitor(monitor_id).info

    async def start(self, call_id: str, mode: MonitorMode | str, *, supervisor: str,
                    phone: str | None = None) -> MonitorInfo:
        """Join `supervisor` to the live call `call_id` in `mode`; see the module doc.

        Raises CallNotFound, AmbiguousCallId, ModeNotPossible,
        SupervisorUnavailable or SupervisorNoAnswer (all SupervisionError).
        """
        mode = _mode(mode)
        check_supervisor(self.acd, supervisor)
        caller = self._target(call_id)
        agents = await self._agents_of(caller)
        if mode is MonitorMode.WHISPER and not agents:
            raise ModeNotPossible(f"call {caller.id[:8]} has no agent to whisper to "
                                  "(it is with the bot or in a queue); listen or barge instead")
        session_leg = None if phone else SessionSeat.find(self.acd, supervisor)
        if session_leg is None and phone is None:
            phone = self._phone_of(supervisor)
        if session_leg is not None and any(m.leg is session_leg
                                           for m in self._monitors.values()):
            raise SupervisorUnavailable(f"{supervisor}'s session is listening in already")
        now = utcnow()
        info = MonitorInfo(monitor_id=uuid.uuid4().hex, call_id=caller.id,
                           supervisor=supervisor, mode=mode,
                           via="session" if session_leg is not None else "phone",
                           phone=phone, started_at=now)
        monitor = _Monitor(info, caller)
        self._monitors[info.monitor_id] = monitor
        self.calls.set_monitor(info)
        store = self.store
        self.journal.submit(lambda: store.supervision.open(
            info.monitor_id, info.call_id, supervisor, mode.value, now, via=info.via,
            phone=phone, node=self.node_name))
        self._event(monitor, "requested")
        log.info("call %s: supervisor %s asks to %s (%s)", caller.id[:8], supervisor,
                 mode.value, phone or "session")
        try:
            if session_leg is not None:
                assert self.acd is not None
                monitor.seat = SessionSeat.take(self.acd, supervisor)
                monitor.leg = monitor.seat.call
            else:
                assert phone is not None
                monitor.leg = await ring_supervisor(self.node, phone,
                                                    self.settings.ring_timeout_s, caller,
                                                    monitor.stop)
                self.calls.mark(monitor.leg.id, Activity.SUPERVISOR, agent=supervisor,
                                peer_call_id=caller.id)
            await self._route(monitor, await self._agents_of(caller))
        except SupervisionError as exc:
            end = monitor.end if monitor.stop.is_set() else _end_for(exc)
            await self._finish(monitor, end, sip_code=getattr(exc, "sip_code", None))
            raise
        except (CallGone, CallFailed) as exc:
            await self._finish(monitor, MonitorEnd.CALL_ENDED if caller.ended.done()
                               else MonitorEnd.FAILED)
            if caller.ended.done():
                raise CallNotFound(f"call {caller.id[:8]} ended while joining") from None
            raise SupervisorUnavailable(f"cannot join the supervisor: {exc}") from None
        except BaseException:
            await self._finish(monitor, MonitorEnd.FAILED)
            raise
        assert monitor.leg is not None
        joined = utcnow()
        self._update(monitor, state="joined", joined_at=joined, leg_call_id=monitor.leg.id)
        leg_id = monitor.leg.id
        self.journal.submit(lambda: store.supervision.joined(info.monitor_id, joined, leg_id))
        self._event(monitor, "joined")
        monitor.task = asyncio.get_running_loop().create_task(
            self._follow(monitor), name=f"monitor-{info.monitor_id[:8]}")
        return monitor.info

    async def change_mode(self, monitor_id: str, mode: MonitorMode | str) -> MonitorInfo:
        """Switch a joined monitor to `mode` (ModeNotPossible: whisper with no agent)."""
        monitor = self._monitor(monitor_id)
        mode = _mode(mode)
        if monitor.info.state != "joined":
            raise ModeNotPossible(f"monitor {monitor_id[:8]} is not joined yet")
        async with monitor.lock:
            agents = await self._agents_of(monitor.caller)
            if mode is MonitorMode.WHISPER and not agents:
                raise ModeNotPossible(f"call {monitor.caller.id[:8]} has no agent to "
                                      "whisper to")
            if mode is monitor.info.mode:
                return monitor.info
            self._update(monitor, mode=mode)
            await self._route_locked(monitor, agents)
        at, store = utcnow(), self.store
        self.journal.submit(lambda: store.supervision.mode_changed(monitor_id, mode.value, at))
        self._event(monitor, "mode")
        log.info("call %s: supervisor %s now %s", monitor.caller.id[:8],
                 monitor.info.supervisor, mode.value)
        return monitor.info

    async def stop(self, monitor_id: str) -> MonitorInfo:
        """End a monitor (the call goes on); returns its final record. A phone
        still ringing is cancelled (its `start` raises SupervisorNoAnswer, 487)."""
        monitor = self._monitor(monitor_id)
        monitor.stop.set()
        await asyncio.wait_for(monitor.ended.wait(), 15)
        return monitor.info

    async def close(self) -> None:
        """The node stops: end every monitor (``shutdown``)."""
        for monitor in list(self._monitors.values()):
            monitor.end = MonitorEnd.SHUTDOWN
            monitor.stop.set()
        tasks = [m.task for m in self._monitors.values() if m.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # -- the call and its legs -----------------------------------------------------------
    def _monitor(self, monitor_id: str) -> _Monitor:
        monitor = self._monitors.get(monitor_id)
        if monitor is None:
            raise MonitorNotFound(f"no active monitor {monitor_id!r}")
        return monitor

    def _target(self, call_id: str) -> SipCall:
        """The caller's leg to monitor (an agent session or agent leg means its caller)."""
        info = self.calls.info(call_id)
        if info.activity in (Activity.AGENT_SESSION, Activity.AGENT_LEG):
            if info.peer_call_id is None or info.peer_call_id not in self.calls:
                raise ModeNotPossible(f"agent leg {info.short_id} is not talking to a caller")
            info = self.calls.info(info.peer_call_id)
        if info.activity in _NOT_MONITORABLE:
            raise ModeNotPossible(f"call {info.short_id} {_NOT_MONITORABLE[info.activity]}")
        call = self.calls.sip_call(info.call_id)
        if call.leg is None or call.ended.done():
            raise ModeNotPossible(f"call {info.short_id} has no audio")
        return call

    def _phone_of(self, supervisor: str) -> str:
        spec = self.acd.config.agents.get(supervisor) if self.acd is not None else None
        if spec is None or spec.phone is None:
            raise SupervisorUnavailable(
                f"{supervisor} has no agent session logged in and no phone in the agents "
                "file; give a phone to ring")
        return str(spec.phone)

    async def _agents_of(self, caller: SipCall) -> list[SipCall]:
        """The legs talking with the caller now, other than supervisors."""
        supervisors = {m.leg for m in self._monitors.values() if m.leg is not None}
        return [leg for leg in await self.node.talking_with(caller) if leg not in supervisors]

    async def _route(self, monitor: _Monitor, agents: list[SipCall]) -> None:
        async with monitor.lock:
            await self._route_locked(monitor, agents)

    async def _route_locked(self, monitor: _Monitor, agents: list[SipCall]) -> None:
        assert monitor.leg is not None
        gone = [leg for leg in monitor.parties if leg not in agents]
        routes = plan_routes(monitor.info.mode, monitor.caller, agents=agents, gone=gone)
        await self.node.set_routes(monitor.leg, routes)
        monitor.agents = list(agents)
        monitor.parties = [monitor.caller, *agents]

    # -- a joined monitor ---------------------------------------------------------------
    async def _follow(self, monitor: _Monitor) -> None:
        """Follow agents joining and leaving until the call, the leg or the monitor ends."""
        assert monitor.leg is not None
        leg, caller = monitor.leg, monitor.caller
        stop = asyncio.ensure_future(monitor.stop.wait())
        end = monitor.end
        try:
            while True:
                news: list[asyncio.Future[Any]] = [caller.ended, leg.ended, stop]
                await asyncio.wait(news, timeout=self.settings.recheck_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                if caller.ended.done():
                    end = MonitorEnd.CALL_ENDED
                    break
                if leg.ended.done():
                    end = MonitorEnd.SUPERVISOR_HUNG_UP
                    break
                if stop.done():
                    end = monitor.end
                    break
                agents = await self._agents_of(caller)
                if agents != monitor.agents:
                    await self._route(monitor, agents)
        except (CallGone, CallFailed) as exc:
            log.info("monitor %s: %s", monitor.info.monitor_id[:8], exc)
            end = (MonitorEnd.CALL_ENDED if caller.ended.done() else
                   MonitorEnd.SUPERVISOR_HUNG_UP if leg.ended.done() else MonitorEnd.FAILED)
        except Exception:
            log.exception("monitor %s failed", monitor.info.monitor_id[:8])
            end = MonitorEnd.FAILED
        finally:
            stop.cancel()
            await self._finish(monitor, end)

    async def _finish(self, monitor: _Monitor, end: MonitorEnd, *,
                      sip_code: int | None = None) -> None:
        """Undo the routes (a session stays up; a phone leg is hung up) and record the end."""
        if monitor.info.monitor_id not in self._monitors:
            return
        del self._monitors[monitor.info.monitor_id]
        leg = monitor.leg
        try:
            if leg is not None and monitor.seat is not None:
                with contextlib.suppress(CallGone, CallFailed):
                    parties = monitor.parties or [monitor.caller]
                    await self.node.set_routes(leg, [(p, LegRoute()) for p in parties])
                monitor.seat.give_back()
            elif leg is not None:
                await leg.hangup()
        except Exception:
            log.exception("monitor %s: leaving the call failed", monitor.info.monitor_id[:8])
        at = utcnow()
        self._update(monitor, state="ended", ended_at=at, end_reason=end)
        self.calls.drop_monitor(monitor.caller.id, monitor.info.monitor_id)
        monitor_id, store = monitor.info.monitor_id, self.store
        self.journal.submit(lambda: store.supervision.close(monitor_id, at, end.value,
                                                            sip_code=sip_code))
        self._event(monitor, "ended", sip_code=sip_code)
        monitor.ended.set()
        log.info("call %s: supervisor %s left (%s)", monitor.caller.id[:8],
                 monitor.info.supervisor, end.value)

    def _update(self, monitor: _Monitor, **changes: Any) -> None:
        monitor.info = monitor.info.model_copy(update=changes)
        if monitor.info.state != "ended":
            self.calls.set_monitor(monitor.info)

    def _event(self, monitor: _Monitor, action: str, **extra: Any) -> None:
        info = monitor.info
        data: dict[str, Any] = {"action": action, "monitor_id": info.monitor_id,
                                "supervisor": info.supervisor, "mode": info.mode.value,
                                "via": info.via, "leg_call_id": info.leg_call_id}
        if action == "ended":
            data["end_reason"] = info.end_reason.value if info.end_reason else None
        data.update(extra)
        self.journal.on_call_event(monitor.caller, "monitor", data)


def _end_for(exc: SupervisionError) -> MonitorEnd:
    if isinstance(exc, SupervisorNoAnswer):
        return MonitorEnd.NO_ANSWER
    if isinstance(exc, CallNotFound):
        return MonitorEnd.CALL_ENDED
    return MonitorEnd.FAILED

