"""Agent session keys (login entry, commands) and PIN hashes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acd.agents_config import SessionKeys, SessionSpec
from acd.pins import hash_pin, verify_pin
from acd.session_keys import (
    LoginAttempt,
    LoginEntry,
    SessionAction,
    SessionCommand,
    SessionKeypad,
)


def _feed(entry: LoginEntry, keys: str) -> list[LoginAttempt]:
    return [a for a in (entry.press(k) for k in keys) if a is not None]


def test_login_entry_collects_id_then_pin() -> None:
    entry = LoginEntry()
    assert _feed(entry, "1001#") == [] and entry.wants_pin
    assert _feed(entry, "0042#") == [LoginAttempt("1001", "0042")]
    assert not entry.wants_pin
    assert _feed(entry, "19*1002#47x11#") == [LoginAttempt("1002", "4711")]
    assert _feed(entry, "9" * 30 + "##") == [LoginAttempt("9" * 10, "")]


def test_session_keys_become_commands() -> None:
    keypad = SessionKeypad(SessionSpec())
    assert keypad.press("1") == SessionCommand(SessionAction.READY)
    assert keypad.press("3") == SessionCommand(SessionAction.WRAP_UP_DONE)
    assert keypad.press("9") == SessionCommand(SessionAction.LOG_OUT)
    assert keypad.press("2") is None and keypad.awaiting_reason
    assert keypad.press("2") == SessionCommand(SessionAction.NOT_READY, "lunch")
    assert keypad.press("2") is None and keypad.press("7") is None  # unknown reason
    assert not keypad.awaiting_reason
    assert keypad.press("2") is None
    keypad.cancel()
    assert keypad.press("1") == SessionCommand(SessionAction.READY)
    assert keypad.press("5") is None


def test_configured_keys_and_reasons() -> None:
    # end_call defaults to "*": a configuration that gives "*" to another key moves it.
    spec = SessionSpec(keys=SessionKeys(ready="*", not_ready="0", wrap_up_done="#",
                                        log_out="8", end_call="7"),
                       not_ready_reasons={"5": "coaching"})
    keypad = SessionKeypad(spec)
    assert keypad.press("*") == SessionCommand(SessionAction.READY)
    keypad.press("0")
    assert keypad.press("5") == SessionCommand(SessionAction.NOT_READY, "coaching")
    assert keypad.press("7") == SessionCommand(SessionAction.END_CALL)


def test_end_call_key_defaults_to_star_and_must_differ() -> None:
    assert SessionKeypad(SessionSpec()).press("*") == SessionCommand(SessionAction.END_CALL)
    with pytest.raises(ValidationError, match="different DTMF key"):
        SessionKeys(ready="*")


def test_pins_are_salted_hashes_that_verify() -> None:
    first, second = hash_pin("4711"), hash_pin("4711")
    assert first != second and "4711" not in first.split("$")  # hex may hold "4711"
    assert first.startswith("scrypt$")
    assert verify_pin(first, "4711") and verify_pin(second, "4711")
    assert not verify_pin(first, "4712") and not verify_pin(first, "")
    for broken in ("", "plain", "scrypt$x$8$1$00$00", first.replace("scrypt", "md5"),
                   "scrypt$16384$8$1$zz$00", "scrypt$1099511627776$8$1$00$00"):
        assert not verify_pin(broken, "4711")
