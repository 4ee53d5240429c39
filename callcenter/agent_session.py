"""An agent session: the agent's phone stays connected to the engine between calls.

    await AgentSession(acd, call).run()      # the agent's call to the session number

The engine answers and asks (by voice when the node has one, else two rising
notes) for ``<agent id>#<PIN>#``; after ``session.login_attempts`` wrong
entries, or no login within :data:`LOGIN_TIMEOUT_S`, it hangs up. Logged in,
one key is one command (:class:`acd.session_keys.SessionKeypad`): ready, not
ready with a reason, wrap-up done, log out (the engine hangs up), and on a
call, end call. Each is confirmed by voice (or a beep); a key the state does
not allow gets two low beeps. Hanging up the phone logs the agent out
(``disconnected``).

A caller is offered to a ready agent by routing and bridged at once
(:meth:`AgentSession.take`): the agent hears a whisper only they hear
("Caller from 5 5 5 1, queue front desk"; without a voice, nothing), then
both hear the session's short tone, then they talk. When either side ends
the talk the agent goes to wrap-up for the queue's ``wrap_up_s`` (ready
when the timer runs out or on the wrap-up-done key) and the caller's side
learns who ended it (:class:`callcenter.queued_call.TalkEnd`). Connecting,
talking and wrap-up are the agent's :class:`callcenter.agent_desk.AgentDesk`,
shared with on-demand agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from acd.agent_state import AgentState, AgentStatus, IllegalTransition, StateChange
from acd.agents_config import AgentSpec
from acd.session_keys import LoginEntry, SessionAction, SessionCommand, SessionKeypad
from callcenter.acd_sounds import error_beep, key_beep, login_tone
from callcenter.core.errors import CallGone, MediaError
from callcenter.queued_call import QueuedCall
from sip.call import SipCall

if TYPE_CHECKING:
    from callcenter.acd_service import AcdService

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 60.0  # no complete login in this long: hang up
REASON_TIMEOUT_S = 5.0  # after the not-ready key, its reason key is awaited this long
LOGIN_PROMPT = "Agent login. Enter your agent number and hash, then your PIN and hash."
LOGIN_AGAIN = "That agent number and PIN did not match. Please try again."
LOGIN_FAILED = "Login failed. Goodbye."


class AgentSession:
    """One agent's phone call to the session number; `run` once."""

    def __init__(self, acd: AcdService, call: SipCall) -> None:
        self.acd = acd
        self.call = call
        self.spec = acd.config.session
        self.agent: AgentSpec | None = None
        self.status: AgentStatus | None = None
        self._keypad = SessionKeypad(self.spec)
        self._end_call = asyncio.Event()
        self._talk: asyncio.Task[None] | None = None
        self._voice = asyncio.Lock()  # one thing said to the agent at a time, in order

    @property
    def rate(self) -> int:
        assert self.call.media is not None
        return self.call.media.clock_rate

    async def run(self) -> None:
        """Answer, log the agent in, then follow their keys until the session ends."""
        await self.call.answer()
        try:
            if await self._log_in():
                await self._serve()
            elif not self.call.ended.done():
                await self._tell(LOGIN_FAILED, error_beep(self.rate))
        except CallGone:
            pass
        finally:
            await self._over()
        if not self.call.ended.done():
            await self.call.hangup()

    # -- keys ---------------------------------------------------------------------------
    async def _key(self, timeout: float | None) -> str | None:
        """The next key pressed, None after `timeout` s; CallGone when the phone hangs up."""
        key = asyncio.ensure_future(self.call.dtmf.get())
        try:
            news: list[asyncio.Future[Any]] = [key, self.call.ended]
            await asyncio.wait(news, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not key.done():
                key.cancel()
        if key.done() and not key.cancelled():
            return key.result()
        if self.call.ended.done():
            raise CallGone("the agent hung up")
        return None

    async def _tell(self, text: str, fallback: bytes) -> None:
        """Say `text` to the agent (or play `fallback` without a voice) and wait for its end."""
        try:
            async with self._voice:
                if not await self.acd.say(self.call, text, state="agent_session"):
                    await self.call.play(fallback)
        except MediaError as exc:
            log.warning("agent session %s: cannot play: %s", self.call.id[:8], exc)

    async def _log_in(self) -> bool:
        """Collect id and PIN until one matches; False after too many tries or too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOGIN_TIMEOUT_S
        prompt = loop.create_task(self._tell(LOGIN_PROMPT, login_tone(self.rate)))
        entry, failures = LoginEntry(), 0
        try:
            while True:
                key = await self._key(max(0.0, deadline - loop.time()))
                if key is None:
                    log.info("agent session %s: no login in %.0f s", self.call.id[:8],
                             LOGIN_TIMEOUT_S)
                    return False
                prompt.cancel()
                self.call.stop_audio()
                attempt = entry.press(key)
                if attempt is None:
                    continue
                agent = await self.acd.verify_login(attempt)
                if agent is not None and self.acd.sign_in(self, agent):
                    break
                failures += 1
                log.warning("agent session %s: login %d failed (agent id %r)",
                            self.call.id[:8], failures, attempt.agent_id)
                if failures >= self.spec.login_attempts:
                    return False
                entry = LoginEntry()
                prompt = loop.create_task(self._tell(LOGIN_AGAIN, error_beep(self.rate)))
        finally:
            prompt.cancel()
        assert agent is not None
        self.agent = agent
        self.status = status = self.acd.statuses[agent.id]
        self._change(status.log_in(ready=self.spec.ready_on_login))
        ready = status.state is AgentState.READY
        await self._tell(f"Logged in. {'Ready' if ready else 'Not ready'}.", key_beep(self.rate))
        return True

    async def _serve(self) -> None:
        """Follow the agent's keys until they log out (or hang up: CallGone)."""
        while True:
            waiting_reason = self._keypad.awaiting_reason
            key = await self._key(REASON_TIMEOUT_S if waiting_reason else None)
            if key is None:
                self._keypad.cancel()
                continue
            command = self._keypad.press(key)
            if command is not None and await self._obey(command):
                return

    async def _obey(self, command: SessionCommand) -> bool:
        """Carry out one command; True when the agent logged out."""
        status = self.status
        assert status is not None
        action = command.action
        if action is SessionAction.END_CALL:
            if status.state is AgentState.ON_CALL:
                self._end_call.set()
                return False
            await self._tell("No call to end.", error_beep(self.rate))
            return False
        try:
            if action is SessionAction.READY:
                change = status.ready()
            elif action is SessionAction.NOT_READY:
                assert command.reason is not None
                change = status.not_ready(command.reason)
            elif action is SessionAction.WRAP_UP_DONE:
                change = status.wrap_up_done()
            else:
                change = status.log_out()
        except IllegalTransition as exc:
            log.info("agent session %s: %s", self.call.id[:8], exc)
            await self._tell(f"Not now: you are {status.state.value.replace('_', ' ')}.",
                             error_beep(self.rate))
            return False
        # Stored first: routing may offer a caller at once; then the whisper (or the
        # tone) tells the agent, and a "Ready." first would only keep the caller waiting.
        self._change(change)
        if status.state is AgentState.OFFERED:
            return False
        spoken = {AgentState.READY: "Ready.", AgentState.LOGGED_OUT: "Logged out. Goodbye.",
                  AgentState.NOT_READY: f"Not ready, {command.reason}."}[change.state]
        await self._tell(spoken, key_beep(self.rate))
        return change.state is AgentState.LOGGED_OUT

    def _change(self, change: StateChange) -> None:
        self.acd.change(change)

    # -- a caller -------------------------------------------------------------------------
    async def take(self, caller: QueuedCall) -> None:
        """Connect the offered `caller` (this agent is `offered` it), then hold the
        talk until either side ends it, then wrap up (:class:`AgentDesk`)."""
        assert self.agent is not None
        desk = self.acd.desks[self.agent.id]
        self._talk = asyncio.current_task()
        self._end_call.clear()
        offered = caller.offer_to(self.agent.id)  # published even when not whispered
        whisper = offered if self.spec.whisper else None
        try:
            if await desk.connect(self.call, caller, whisper=whisper, tone_s=self.spec.tone_s,
                                  voice=self._voice):
                await desk.talk(self.call, caller, end_call=self._end_call)
        finally:
            self._talk = None

    # -- the end ---------------------------------------------------------------------------
    async def _over(self) -> None:
        """The session ends: a talk in progress notices by itself; the agent is logged out."""
        talk = self._talk
        if talk is not None and not talk.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(talk), 10)
        status = self.status
        if status is not None:
            if status.logged_in:
                self._change(status.disconnect())
            self.acd.sign_out(self)
