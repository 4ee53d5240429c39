"""What a caller turn means in the clinic's states: only real evidence is an answer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dialog.flow import AskSpec, StateSpec
from dialog.flow_loader import load_flow
from dialog.intents import FuzzyIntentMatcher
from dialog.ports import CallerInput, ListenSettings
from dialog.runner_turns import Heard, interpret, state_intents
from dialog.slots import SlotType

CLINIC = Path(__file__).resolve().parents[2] / "config" / "flows" / "clinic.yaml"
DIGITS = StateSpec(say="Your account number?", ask=AskSpec(slot="account", type=SlotType.DIGITS))


async def _heard(state: StateSpec, text: str) -> Heard:
    return await interpret(CallerInput.speech(text), state, state_intents(state)[0],
                           FuzzyIntentMatcher(), ListenSettings(), date(2025, 6, 4))


def _value(heard: Heard) -> object:
    return heard.filled.value if heard.filled is not None else heard.intent


@pytest.mark.parametrize(("state", "text", "meant"), [
    # The front-desk question of a caller without an appointment.
    ("not_found", "One moment please.", None),
    ("not_found", "Please try again.", None),
    ("not_found", "Sorry, you're breaking up.", None),
    ("not_found", "I'm driving right now.", None),
    ("not_found", "zero", None),  # no key's choice in a yes/no ask
    ("not_found", "Yes please.", True),
    ("not_found", "Yeah, sure.", True),
    ("not_found", "No, no.", False),
    ("not_found", "I don't think so.", False),
    ("not_found", "I want to talk to a person", "agent"),
    ("confirm_cancel", "Not really.", False),
    ("confirm_cancel", "nope", False),
    ("ask_time", "One moment please.", None),
    # The main menu.
    ("main_menu", "Keep an eye on him.", None),
    ("main_menu", "One moment please.", None),
    ("main_menu", "no", None),
    ("main_menu", "I'd like to keep my appointment", "confirm"),
    ("main_menu", "two, two,", "cancel"),  # Whisper echoes a lone word
    ("main_menu", "three", "reschedule"),
    ("main_menu", "zero", "agent"),
    ("main_menu", "I need to reschedule", "reschedule"),
])
async def test_clinic_turns(state: str, text: str, meant: object) -> None:
    heard = await _heard(load_flow(CLINIC).spec.states[state], text)
    assert _value(heard) == meant, heard


@pytest.mark.parametrize(("text", "meant"), [
    ("zero", "0"), ("zero one two", "012"), ("four five one two", "4512"),
    ("agent", "agent"), ("one moment please", None), ("It's worth eight dollars.", None),
])
async def test_a_number_said_to_an_ask_is_its_answer(text: str, meant: object) -> None:
    assert _value(await _heard(DIGITS, text)) == meant
