"""The human queue on a node: agent sessions, waiting callers, routing, records.

    acd_config = load_acd(settings.acd)                     # blocking; file:line errors
    acd = AcdService(acd_config, settings, store, journal, node, node_name)
    await acd.start(gone_nodes)              # agents to the store, hold audio prepared
    acd.voice = synthesizer                  # optional: whispers, announcements, prompts
    if acd.is_session_call(call):            # the agents' session number
        await acd.run_session(call)
    result = await acd.enter(call, "front-desk")   # a flow's transfer to a queue

The pure parts (agent states, queues, routing, estimates) come from `acd`;
this class owns their one live copy on the event loop, the clock and the
records. Every agent state change is stored (``agent_state_changes``, in
order, through the call journal) and published as a node event ``agent``;
each caller's stay is a ``queue_entries`` row and ``queue`` call events.

Routing runs whenever an agent becomes ready or a caller joins: each ready
agent with a session, and each ready on-demand agent, is offered at most one
caller (`acd.plan_offers`); the session connects them
(:meth:`AgentSession.take`), or the engine rings the on-demand agent's phone
(:func:`callcenter.on_demand_agent.ring_agent`). A caller joins a queue
only while an agent who could take its calls is logged in (ready or not);
otherwise the flow's fallback applies. On-demand agents are logged in by
``at_start`` in the agents file or by the ``agent_*`` methods (control API).
Without a voice (no dialog flow, so no TTS on the node) agents hear tones
instead of words, whispers and queue announcements are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acd.agent_state import DISCONNECTED, AgentState, AgentStatus, StateChange
from acd.agent_sync import sync_agents
from acd.agents_config import AgentMode, AgentSpec, StartState
from acd.config import AcdConfig, load_acd_config
from acd.expected_wait import HandleTimes, expected_wait_s
from acd.pins import hash_pin, verify_pin
from acd.queue_model import CallQueue
from acd.queues_config import QueueSpec
from acd.routing import AgentSnapshot, Rotation, plan_offers
from acd.session_keys import LoginAttempt
from callcenter.acd_sounds import spoken, write_hold_tone
from callcenter.agent_desk import AgentDesk
from callcenter.agent_session import AgentSession
from callcenter.call_journal import CallJournal
from callcenter.core.call import utcnow
from callcenter.core.errors import MediaError, SettingsError
from callcenter.core.events import Event
from callcenter.core.settings import AcdSettings, Settings
from callcenter.core.speech import Synthesizer
from callcenter.core.store import AsyncStore
from callcenter.handoff import Handoff
from callcenter.on_demand_agent import ring_agent
from callcenter.queued_call import Phase, QueuedCall, QueueResult
from sip.call import SipCall
from sip.loop_players import prepare_loop_wav
from sip.node import SipNode
from sip.sip_uri import request_uri_user

log = logging.getLogger(__name__)

# Agents counted as working a queue, for expected waits (not ready / logged out are not).
_STAFFED = frozenset({AgentState.READY, AgentState.OFFERED, AgentState.ON_CALL,
                      AgentState.WRAP_UP})


def load_acd(settings: AcdSettings) -> AcdConfig:
    """Read and check the agents and queues files (blocking); warnings are logged.

    Raises `acd.AcdConfigError` (a SettingsError) listing every problem as file:line.
    """
    config = load_acd_config(settings.agents_path, settings.queues_path)
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


class AcdService:
    """The node's agents and queues, live; all methods run on the event loop."""

    def __init__(self, config: AcdConfig, settings: Settings, store: AsyncStore,
                 journal: CallJournal, node: SipNode, node_name: str, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.settings = settings
        self.store = store
        self.journal = journal
        self.node = node
        self.node_name = node_name
        self.clock = clock
        self.voice: Synthesizer | None = None
        max_misses = config.on_demand.max_misses
        self.statuses = {agent_id: AgentStatus(agent_id, clock=clock, max_misses=max_misses)
                         for agent_id in config.agents}
        self.queues = {name: CallQueue.from_spec(spec) for name, spec in config.queues.items()}
        self.desks = {agent_id: AgentDesk(self, status)
                      for agent_id, status in self.statuses.items()}
        self.sessions: dict[str, AgentSession] = {}
        self.waiting: dict[str, QueuedCall] = {}
        self.rotation = Rotation()
        self.handle_times = {name: HandleTimes() for name in config.queues}
        self._hold: dict[str, Path] = {}
        self._pin_hashes: dict[str, str] = {}
        self._no_such_agent = ""
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- start and stop -----------------------------------------------------------------
    async def start(self, gone_nodes: Sequence[str] = ()) -> None:
        """Write the agents to the store (PINs hashed), log out agents a dead node
        left logged in, seed wait estimates, prepare each queue's hold audio."""
        now = self.clock()
        await asyncio.to_thread(sync_agents, self.store.store, self.config.agents_file, now)
        self._no_such_agent = await asyncio.to_thread(hash_pin, "0000")
        stale = {None, self.node_name, *gone_nodes}
        for record in await self.store.acd.agents():
            self._pin_hashes[record.id] = record.pin_hash
            if record.state != AgentState.LOGGED_OUT.value and record.state_node in stale:
                log.info("agent %s was left %s by node %s: logged out", record.id,
                         record.state, record.state_node)
                await self.store.acd.record_state(record.id, AgentState.LOGGED_OUT.value, now,
                                                  reason=DISCONNECTED, node=self.node_name)
        for name in self.config.queues:
            history = await self.store.acd.recent_handle_times(name)
            self.handle_times[name] = HandleTimes.from_history(history)
        await self._prepare_hold_audio()
        for agent in self.config.agents.values():
            if agent.mode is AgentMode.ON_DEMAND and agent.at_start is not StartState.LOGGED_OUT:
                self.change(self.statuses[agent.id].log_in(
                    ready=agent.at_start is StartState.READY))
        log.info("human queue: %d agent(s), queues %s, agent sessions on number %s",
                 len(self.config.agents), sorted(self.config.queues),
                 self.config.session.number or "(none)")

    async def _prepare_hold_audio(self) -> None:
        s = self.settings
        loops = s.node.data_dir / "loops"
        rate = s.sip.clock_rate
        tone: Path | None = None
        for name, spec in self.config.queues.items():
            source = spec.hold_audio
            if source is None:
                if tone is None:
                    tone = await asyncio.to_thread(write_hold_tone,
                                                   loops / f"acd-hold-tone-{rate}.wav", rate)
                source = tone
            try:
                self._hold[name] = await asyncio.to_thread(prepare_loop_wav, source, loops,
                                                           rate)
            except MediaError as exc:
                raise SettingsError(f"{s.acd.queues_path}: queue {name}: hold_audio: "
                                    f"{exc}") from None

    def close(self) -> None:
        """The node stops: agents still logged in are logged out (disconnected)."""
        for task in list(self._tasks):
            task.cancel()
        for desk in self.desks.values():
            desk.close()
        for status in self.statuses.values():
            if status.logged_in:
                self.change(status.disconnect())
        self.sessions.clear()

    # -- calls in ---------------------------------------------------------------------------
    def is_session_call(self, call: SipCall) -> bool:
        """Whether `call` dials the agents' session number."""
        number = self.config.session.number
        return number is not None and request_uri_user(call.info.to_uri) == number

    async def run_session(self, call: SipCall) -> None:
        """An agent's phone calling the session number, until it hangs up."""
        await AgentSession(self, call).run()

    def takes(self, queue: str) -> bool:
        """Whether the engine has a queue of this name."""
        return queue in self.queues

    async def enter(self, call: SipCall, queue: str, *, escalated: bool = False,
                    handoff: Handoff | None = None) -> QueueResult:
        """Put the answered `call` in `queue` until an agent has talked to it, or it left;
        `handoff`: why the dialog sends it (the agent's whisper and offer).

        NOT_TAKEN (nothing stored) when no agent who could take the queue's
        calls is logged in, or when the queue is full (stored as ``full``).
        """
        spec = self.config.queues[queue]
        if not any(self.config.agents[a].has_skills(spec.skills) for a in self._reachable()):
            log.info("call %s: nobody logged in for queue %s", call.id[:8], queue)
            return QueueResult.NOT_TAKEN
        return await QueuedCall(self, call, spec, escalated=escalated, handoff=handoff).run()

    # -- agents -------------------------------------------------------------------------------
    async def verify_login(self, attempt: LoginAttempt) -> AgentSpec | None:
        """The agent whose id and PIN were keyed in, or None (same cost either way)."""
        agent = self.config.agents.get(attempt.agent_id)
        stored = self._pin_hashes.get(attempt.agent_id, self._no_such_agent)
        matches = await asyncio.to_thread(verify_pin, stored, attempt.pin)
        return agent if matches and agent is not None else None

    def sign_in(self, session: AgentSession, agent: AgentSpec) -> bool:
        """Attach `session` to `agent`; False if the agent has a session already,
        or takes calls on demand (their phone is rung instead)."""
        if agent.mode is not AgentMode.SESSION:
            log.warning("agent %s is an on-demand agent: no session login", agent.id)
            return False
        if agent.id in self.sessions or self.statuses[agent.id].logged_in:
            log.warning("agent %s is logged in already", agent.id)
            return False
        self.sessions[agent.id] = session
        return True

    def sign_out(self, session: AgentSession) -> None:
        """Detach a session that has ended."""
        for agent_id, known in list(self.sessions.items()):
            if known is session:
                del self.sessions[agent_id]

    def _reachable(self) -> list[str]:
        """Agents logged in with a way to reach them: a session, or a phone to ring."""
        return [agent_id for agent_id, spec in self.config.agents.items()
                if agent_id in self.sessions or (spec.mode is AgentMode.ON_DEMAND
                                                 and self.statuses[agent_id].logged_in)]

    # Control of on-demand agents (and ready / not ready of any agent), for the
    # control API and CLI. Each raises KeyError for an unknown agent and
    # acd.IllegalTransition when the agent's state does not allow it.
    def _on_demand(self, agent_id: str) -> AgentStatus:
        if self.config.agents[agent_id].mode is not AgentMode.ON_DEMAND:
            raise ValueError(f"agent {agent_id} logs in and out by phone (a session agent)")
        return self.statuses[agent_id]

    def agent_log_in(self, agent_id: str, *, ready: bool = False) -> StateChange:
        """Log an on-demand agent in: ready (rung for callers), or not ready."""
        change = self._on_demand(agent_id).log_in(ready=ready)
        self.change(change)
        return change

    def agent_log_out(self, agent_id: str) -> StateChange:
        """Log an on-demand agent out (not while offered a caller or on a call)."""
        change = self._on_demand(agent_id).log_out()
        self.change(change)
        return change

    def agent_ready(self, agent_id: str) -> StateChange:
        """Make a logged-in agent ready (also ends their wrap-up)."""
        change = self.statuses[agent_id].ready()
        self.change(change)
        return change

    def agent_not_ready(self, agent_id: str, reason: str) -> StateChange:
        """Make a logged-in agent not ready for `reason`."""
        change = self.statuses[agent_id].not_ready(reason)
        self.change(change)
        return change

    def change(self, change: StateChange) -> None:
        """Record an agent's state change (store, event, log); route if they became ready."""
        log.info("agent %s: %s%s%s", change.agent_id, change.state.value,
                 f" ({change.reason})" if change.reason else "",
                 f" call {change.call_id[:8]}" if change.call_id else "")
        store, node = self.store, self.node_name
        self.journal.submit(lambda: store.acd.record_state(
            change.agent_id, change.state.value, change.at, reason=change.reason,
            call_id=change.call_id, node=node))
        event = Event(kind="agent", node=node, at=change.at, data={
            "agent": change.agent_id, "state": change.state.value, "reason": change.reason,
            "call_id": change.call_id})
        self.journal.submit(lambda: self.journal.bus.publish(event))
        self.desks[change.agent_id].state_changed(change)
        if change.state is AgentState.READY:
            self.route()

    def handled(self, queue: str, entry_id: int | None, seconds: float) -> None:
        """A call of `queue` took `seconds` of talk plus wrap-up: for wait estimates."""
        self.handle_times[queue].add(seconds)
        if entry_id is not None:
            self.journal.submit(lambda: self.store.acd.set_handle_time(entry_id, seconds))

    # -- routing --------------------------------------------------------------------------------
    def route(self) -> None:
        """Offer waiting callers to ready agents (sessions and on-demand), best callers
        first."""
        pending = [(self.config.queues[name], [c for c in queue.waiting() if (
                    (q := self.waiting.get(c.call_id)) is not None and q.phase is Phase.WAITING)])
                   for name, queue in self.queues.items() if len(queue)]
        reachable = self._reachable()
        if not any(callers for _, callers in pending) or not reachable:
            return
        agents = [AgentSnapshot.of(self.statuses[agent_id], self.config.agents[agent_id].skills)
                  for agent_id in reachable]
        for offer in plan_offers(pending, agents, self.rotation):
            caller = self.waiting.get(offer.call_id)
            session = self.sessions.get(offer.agent_id)
            agent = self.config.agents[offer.agent_id]
            if caller is None or caller.phase is not Phase.WAITING or (
                    session is None and agent.mode is not AgentMode.ON_DEMAND):
                continue
            self.queues[offer.queue].offer(offer.call_id, offer.agent_id)
            self.rotation.offered(offer.queue, offer.agent_id)
            caller.phase = Phase.CONNECTING
            self.change(self.statuses[offer.agent_id].offer(offer.call_id))
            job = session.take(caller) if session is not None else ring_agent(self, agent, caller)
            self.spawn(job, f"take-{offer.call_id[:8]}")

    def spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        """Run `job` in a task the service keeps (cancelled at close); failures are logged."""
        task = asyncio.get_running_loop().create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def expected_wait(self, spec: QueueSpec, position: int) -> float | None:
        """Seconds the caller at `position` of `spec`'s queue can expect to wait, or None."""
        staffed = sum(1 for agent_id in self._reachable()
                      if self.statuses[agent_id].state in _STAFFED
                      and self.config.agents[agent_id].has_skills(spec.skills))
        return expected_wait_s(position, self.handle_times[spec.name].mean(), staffed)

    # -- sounds and records ---------------------------------------------------------------------
    def prepare_whisper(self, text: str, position: int) -> None:
        """Render `text` at the agent sessions' rates now, so the whisper starts at
        once when the caller is offered (the voice caches each sentence).

        Only for a caller whose turn is near: at most one per logged-in session
        ahead of them, so a long queue does not keep the voice from live calls.
        """
        if self.voice is None or not self.config.session.whisper:
            return
        rates = {s.call.media.clock_rate for s in self.sessions.values()
                 if s.call.media is not None and not s.call.ended.done()}
        if not rates or position > len(self.sessions):
            return

        async def render() -> None:
            for rate in sorted(rates):
                with contextlib.suppress(MediaError):
                    await spoken(self.voice, text, rate)

        self.spawn(render(), "whisper-ahead")

    def hold_wav(self, queue: str) -> Path:
        """The prepared hold audio of `queue` (see `start`)."""
        return self._hold[queue]

    async def say(self, call: SipCall, text: str, *, state: str,
                  still: Callable[[], bool] | None = None) -> bool:
        """Speak `text` into `call` with the node's voice and keep it as a turn.

        False, and nothing played, without a voice (or when synthesis fails) or
        once `still()` is false (checked after rendering); else whether it
        played to the end.
        """
        if call.media is None:
            return False
        try:
            pcm = await spoken(self.voice, text, call.media.clock_rate)
        except MediaError as exc:
            log.error("call %s: cannot speak %r: %s", call.id[:8], text, exc)
            return False
        if pcm is None or call.ended.done() or (still is not None and not still()):
            return False
        started = datetime.now(UTC)
        played = await call.play(pcm)
        self.journal.turn(call, speaker="engine", text=text, state=state, started_at=started,
                          ended_at=datetime.now(UTC), intent=None, confidence=None,
                          data={"kind": "acd"})
        return played

    def call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        """A call event of the human queue: stored with the call and published."""
        self.journal.on_call_event(call, kind, data)
