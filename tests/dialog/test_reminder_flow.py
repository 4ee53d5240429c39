"""The outbound reminder flow (config/flows/reminder.yaml), driven by scripted
callees: it reads the contact's appointment and reports what they decided in
the variables ``result`` and ``result_detail``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialog.flow import Flow
from dialog.flow_loader import load_flow
from dialog.record_stores import InMemoryRecordStore
from dialog.runner import CallData, DialogOutcome, DialogRunner, Ending
from dialog.templates import render
from tests.dialog.fakes import FakeTransferrer, ScriptedCaller, press, say

REMINDER = Path(__file__).resolve().parents[2] / "config" / "flows" / "reminder.yaml"
# Wednesday 4 June 2025, 10:00 in New York (the flow's zone).
NOW = datetime(2025, 6, 4, 14, 0, tzinfo=UTC)
CONTACT = {"name": "Maria Lopez", "appointment": "2025-06-06 09:30",
           "business_name": "Riverside Clinic", "campaign": "c1"}


@pytest.fixture(scope="module")
def reminder() -> Flow:
    return load_flow(REMINDER)


async def _run(flow: Flow, *script: object) -> tuple[DialogOutcome, ScriptedCaller]:
    io = ScriptedCaller(list(script))  # type: ignore[arg-type]
    runner = DialogRunner(flow, io, records=InMemoryRecordStore({}),
                          transferrer=FakeTransferrer(accept=True),
                          call=CallData(caller_number="+12025550100", call_id="c1",
                                        contact=CONTACT), clock=lambda: NOW)
    return await runner.run(), io


async def test_confirmed_by_voice(reminder: Flow) -> None:
    outcome, io = await _run(reminder, say("yes I'll be there"))
    assert outcome.ending is Ending.COMPLETED
    assert (outcome.variables.get("result"), outcome.variables.get("result_detail")) == (
        "confirmed", None)
    assert "your appointment on Friday, June sixth at nine thirty AM" in io.texts[0]
    assert io.hung_up


async def test_cancelled_by_keys(reminder: Flow) -> None:
    outcome, _ = await _run(reminder, press("2"), press("1"))
    assert outcome.variables.get("result") == "cancelled"


async def test_rescheduled_with_the_new_time(reminder: Flow) -> None:
    outcome, io = await _run(reminder, say("I need to reschedule"),
                             say("next Tuesday at ten thirty in the morning"), say("yes"))
    assert (outcome.variables.get("result"), outcome.variables.get("result_detail")) == (
        "rescheduled", "2025-06-10T10:30")
    assert "now on Tuesday, June tenth at ten thirty AM" in io.texts[-1]


async def test_key_9_is_left_to_the_opt_out(reminder: Flow) -> None:
    assert not any(intent.dtmf == "9" for state in reminder.spec.states.values()
                   for intent in (state.menu or {}).values())


def test_a_contact_field_with_date_and_time_is_spoken_whole() -> None:
    assert render("{a:spoken}", {"a": "2026-01-14 10:30"}) == (
        "Wednesday, January fourteenth at ten thirty AM")
    assert render("{a:spoken}", {"a": "2026-01-14"}) == "Wednesday, January fourteenth"
