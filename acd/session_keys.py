"""What an agent's keys mean in an agent session: login entry, then commands.

    login = LoginEntry()
    for key in "1001#4711#":
        attempt = login.press(key)        # LoginAttempt("1001", "4711") at the last '#'

    keypad = SessionKeypad(agents_config.session)
    keypad.press("2"); keypad.press("1")  # SessionCommand(NOT_READY, reason="break")
    keypad.press("1")                     # SessionCommand(READY)
    keypad.press("*")                     # SessionCommand(END_CALL): on a call, end it

At login, digits fill the agent id then the PIN, each ended by ``#``; ``*``
clears the field being keyed. Logged in, one key is one command, except
not ready, whose next key picks the reason (`SessionSpec.not_ready_reasons`);
an unknown key is ignored and cancels a pending not ready. A timer in the
wiring may `cancel` a not ready left without its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acd.agents_config import SessionSpec

# Longer input is cut short: nobody keys in 40 digits by accident.
_MAX_FIELD = 10


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """An agent id and PIN as keyed in (not yet checked)."""

    agent_id: str
    pin: str


class LoginEntry:
    """Collects ``<agent id>#<PIN>#``; start a new one after each attempt."""

    def __init__(self) -> None:
        """Waiting for the first digit of the agent id."""
        self._agent_id: str | None = None
        self._field = ""

    @property
    def wants_pin(self) -> bool:
        """Whether the agent id is in and the PIN is being keyed (prompt accordingly)."""
        return self._agent_id is not None

    def press(self, key: str) -> LoginAttempt | None:
        """Take one key; the attempt once the PIN's ``#`` is pressed."""
        if key == "*":
            self._field = ""
        elif key == "#":
            if self._agent_id is None:
                self._agent_id, self._field = self._field, ""
            else:
                attempt = LoginAttempt(self._agent_id, self._field)
                self._agent_id, self._field = None, ""
                return attempt
        elif key.isdigit() and len(key) == 1 and len(self._field) < _MAX_FIELD:
            self._field += key
        return None


class SessionAction(StrEnum):
    """What a logged-in agent asked for."""

    READY = "ready"
    NOT_READY = "not_ready"
    WRAP_UP_DONE = "wrap_up_done"
    LOG_OUT = "log_out"
    END_CALL = "end_call"


@dataclass(frozen=True, slots=True)
class SessionCommand:
    """One command of a logged-in agent; `reason` for not ready."""

    action: SessionAction
    reason: str | None = None


class SessionKeypad:
    """Turns the keys of a logged-in agent into commands."""

    def __init__(self, spec: SessionSpec) -> None:
        """Keys and reasons from the agents file's `session` section."""
        self._reasons = dict(spec.not_ready_reasons)
        self._actions = {
            spec.keys.ready: SessionAction.READY,
            spec.keys.not_ready: SessionAction.NOT_READY,
            spec.keys.wrap_up_done: SessionAction.WRAP_UP_DONE,
            spec.keys.log_out: SessionAction.LOG_OUT,
            spec.keys.end_call: SessionAction.END_CALL,
        }
        self._awaiting_reason = False

    @property
    def awaiting_reason(self) -> bool:
        """Whether not ready was pressed and its reason key is awaited."""
        return self._awaiting_reason

    def cancel(self) -> None:
        """Forget a pending not ready."""
        self._awaiting_reason = False

    def press(self, key: str) -> SessionCommand | None:
        """Take one key; a command when one is complete, else None."""
        if self._awaiting_reason:
            self._awaiting_reason = False
            reason = self._reasons.get(key)
            return None if reason is None else SessionCommand(SessionAction.NOT_READY, reason)
        action = self._actions.get(key)
        if action is SessionAction.NOT_READY:
            self._awaiting_reason = True
            return None
        return None if action is None else SessionCommand(action)
