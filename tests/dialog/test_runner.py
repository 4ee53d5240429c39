"""The clinic demo, driven end to end by scripted callers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.core.call import CallInfo, Direction
from callcenter.core.errors import StoreError
from dialog.flow import Flow
from dialog.flow_loader import load_flow
from dialog.ports import InputKind, Speaker, TransferTarget, Turn
from dialog.record_stores import InMemoryRecordStore
from dialog.runner import CallData, DialogOutcome, DialogRunner, Ending
from tests.dialog.fakes import HANG_UP, SILENCE, FakeTransferrer, ScriptedCaller, press, say

CLINIC = Path(__file__).resolve().parents[2] / "config" / "flows" / "clinic.yaml"
MARIA = "+15551230001"
# Wednesday 4 June 2025, 10:00 in New York (the flow's zone).
NOW = datetime(2025, 6, 4, 14, 0, tzinfo=UTC)
FRONT_DESK = TransferTarget(queue="front-desk")  # the shipped flow has no REFER fallback


@pytest.fixture(scope="module")
def clinic() -> Flow:
    return load_flow(CLINIC)


def appointments() -> InMemoryRecordStore:
    return InMemoryRecordStore({"appointment": {MARIA: {
        "patient_name": "Maria", "doctor": "Doctor Patel", "date": "2025-06-06",
        "time": "09:30", "status": "booked"}}})


class Call:
    """One scripted call to the clinic, with everything the test may inspect."""

    def __init__(self, flow: Flow, *script: object, caller: str = MARIA,
                 transfer_ok: bool = True) -> None:
        self.io = ScriptedCaller(list(script))  # type: ignore[arg-type]
        self.store = appointments()
        self.transfers = FakeTransferrer(accept=transfer_ok)
        self.turns: list[Turn] = []
        self.runner = DialogRunner(flow, self.io, records=self.store,
                                   transferrer=self.transfers,
                                   call=CallData(caller_number=caller, call_id="c1"),
                                   on_turn=self.turns.append, clock=lambda: NOW)

    async def run(self) -> DialogOutcome:
        return await self.runner.run()

    @property
    def intents(self) -> list[str | None]:
        return [t.intent for t in self.turns if t.speaker is Speaker.CALLER]

    @property
    def record(self) -> dict[str, object]:
        return self.store.records["appointment"][MARIA]


async def test_confirm_by_voice(clinic: Flow) -> None:
    call = Call(clinic, say("yes I'll be there"))
    outcome = await call.run()
    assert outcome.ending is Ending.COMPLETED and outcome.state == "confirmed"
    assert call.record["status"] == "confirmed"
    assert call.io.hung_up
    assert call.io.said[0] == (
        "Thank you for calling Riverside Clinic. This call may be recorded.", False)
    assert "Maria. Your appointment with Doctor Patel is on Friday, June sixth at nine thirty AM" \
        in call.io.texts[1]
    assert call.io.texts[-1].startswith("Thank you, your appointment on Friday, June sixth")
    assert call.intents == ["confirm"]


async def test_cancel_after_confirming(clinic: Flow) -> None:
    call = Call(clinic, say("I need to cancel it"), say("yes please"))
    outcome = await call.run()
    assert outcome.ending is Ending.COMPLETED and outcome.state == "cancelled"
    assert call.record["status"] == "cancelled"
    assert call.intents == ["cancel", "cancel_ok"]


async def test_cancel_declined_returns_to_the_menu(clinic: Flow) -> None:
    call = Call(clinic, press("2"), say("no, I'll keep it"), press("1"))
    outcome = await call.run()
    assert outcome.state == "confirmed"
    assert call.record["status"] == "confirmed"


async def test_reschedule_in_one_sentence(clinic: Flow) -> None:
    call = Call(clinic, say("I'd like to reschedule"), say("next Tuesday at two thirty pm"),
                say("yes that's right"))
    outcome = await call.run()
    assert outcome.ending is Ending.COMPLETED
    assert call.record == {"patient_name": "Maria", "doctor": "Doctor Patel",
                           "date": "2025-06-10", "time": "14:30", "status": "rescheduled"}
    assert "So that's Tuesday, June tenth at two thirty PM." in call.io.texts[-2]
    assert call.io.texts[-1].startswith(
        "Done. Your appointment with Doctor Patel is now on Tuesday, June tenth at two thirty PM")


async def test_reschedule_day_then_time_then_change_of_mind(clinic: Flow) -> None:
    call = Call(clinic, press("3"), say("December third"), say("half past ten"), say("no"),
                say("tomorrow"), say("noon"), press("1"))
    await call.run()
    assert call.record["date"] == "2025-06-05" and call.record["time"] == "12:00"
    assert "And what time on Wednesday, December third?" in call.io.texts[3]


async def test_a_past_day_is_refused_with_the_reason(clinic: Flow) -> None:
    call = Call(clinic, press("3"), say("yesterday"), say("Friday at 9 am"), press("1"))
    await call.run()
    assert call.io.texts[3].startswith("That day has already passed, or it's today. Sorry, which")
    assert call.record["date"] == "2025-06-06" and call.record["time"] == "09:00"


@pytest.mark.parametrize("words", ["agent", "can I talk to a representative",
                                   "operator please", "I want a real person"])
async def test_a_person_by_voice_in_the_menu(clinic: Flow, words: str) -> None:
    call = Call(clinic, say(words))
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED and not outcome.escalated
    assert call.transfers.targets == [FRONT_DESK]
    assert call.io.texts[-1] == "Of course. Connecting you to the front desk now."


@pytest.mark.parametrize("turn", [press("0"), say("representative")])
async def test_a_person_from_a_slot_question(clinic: Flow, turn: object) -> None:
    call = Call(clinic, press("3"), turn)
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED and outcome.state == "ask_day"
    assert call.intents[-1] == "agent"


async def test_a_person_by_pressing_zero(clinic: Flow) -> None:
    call = Call(clinic, press("0"))
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED
    assert call.transfers.targets == [FRONT_DESK]
    assert call.turns[-2].kind is InputKind.DTMF and call.turns[-2].intent == "agent"


async def test_no_input_is_reprompted(clinic: Flow) -> None:
    call = Call(clinic, SILENCE, press("1"))
    await call.run()
    assert call.io.texts[2].startswith("Are you still there? Say confirm, cancel or reschedule")
    assert call.intents == ["no_input", "confirm"]


async def test_repeated_failure_escalates(clinic: Flow) -> None:
    call = Call(clinic, say("the weather is lovely"), SILENCE, say("banana"))
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED and outcome.escalated
    assert call.intents == ["no_match", "no_input", "no_match"]
    assert call.io.texts[2].startswith("Sorry, I didn't get that.")
    assert call.io.texts[-1].startswith("Sorry, I'm having trouble understanding.")


async def test_nobody_available_says_so_and_hangs_up(clinic: Flow) -> None:
    call = Call(clinic, press("0"), transfer_ok=False)
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFER_FAILED and call.io.hung_up
    assert call.io.texts[-1].startswith("Sorry, nobody at the front desk")


async def test_dtmf_only_caller(clinic: Flow) -> None:
    call = Call(clinic, press("3"), press("0610"), press("1430"), press("1"))
    outcome = await call.run()
    assert outcome.ending is Ending.COMPLETED
    assert (call.record["date"], call.record["time"]) == ("2025-06-10", "14:30")
    assert all(t.kind is InputKind.DTMF for t in call.turns if t.speaker is Speaker.CALLER)


async def test_unknown_number_is_offered_the_front_desk(clinic: Flow) -> None:
    call = Call(clinic, say("yes"), caller="+15550000000")
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED and outcome.state == "to_front_desk"
    assert call.io.texts[-1] == "One moment, connecting you to the front desk."


async def test_unknown_number_declining_hears_goodbye(clinic: Flow) -> None:
    call = Call(clinic, say("no thanks"), caller="+15550000000")
    outcome = await call.run()
    assert outcome.ending is Ending.COMPLETED and outcome.state == "goodbye"


async def test_say_that_again_repeats_without_counting_a_failure(clinic: Flow) -> None:
    call = Call(clinic, say("sorry, can you say that again"), SILENCE, say("hmm"), press("*"),
                press("1"))
    await call.run()
    assert call.io.texts[1] == call.io.texts[2] == call.io.texts[5]
    assert call.runner.variables["appointment"]["status"] == "confirmed"


async def test_caller_hanging_up_ends_quietly(clinic: Flow) -> None:
    call = Call(clinic, HANG_UP)
    outcome = await call.run()
    assert outcome.ending is Ending.CALLER_HUNG_UP and outcome.state == "main_menu"
    assert not call.io.hung_up


async def test_store_failure_hands_over(clinic: Flow) -> None:
    class Broken(InMemoryRecordStore):
        async def lookup(self, kind: str, key: str) -> dict[str, object] | None:
            raise StoreError("database is locked")

    call = Call(clinic)
    call.runner._records = Broken()
    outcome = await call.run()
    assert outcome.ending is Ending.TRANSFERRED and outcome.escalated


async def test_listening_settings_and_hints_follow_the_state(clinic: Flow) -> None:
    call = Call(clinic, press("3"), say("next Friday"), say("two"), say("yes"))
    await call.run()
    (menu_hints, menu), (day_hints, day), (_, at), (_, yes_no) = call.io.listens
    assert {"confirm", "cancel", "reschedule", "agent", "operator"} <= set(menu_hints)
    assert {"Tuesday", "June", "tomorrow", "representative"} <= set(day_hints)
    assert (menu.max_digits, day.max_digits, at.max_digits, yes_no.max_digits) == (1, 4, 4, 1)
    assert (menu.endpointing.end_silence_ms_incomplete, menu.endpointing.no_input_timeout_ms,
            menu.barge_in) == (700, 6000, True)
    assert call.record["time"] == "14:00"


async def test_every_turn_is_reported(clinic: Flow) -> None:
    call = Call(clinic, say("confirm", confidence=0.8))
    await call.run()
    speakers = [t.speaker for t in call.turns]
    assert speakers == [Speaker.ENGINE, Speaker.ENGINE, Speaker.CALLER, Speaker.ENGINE]
    heard = call.turns[2]
    assert (heard.state, heard.text, heard.intent, heard.confidence) == (
        "main_menu", "confirm", "confirm", 0.8)
    assert heard.started_at == heard.ended_at == NOW


@pytest.mark.parametrize(("uri", "number"), [
    ('"Maria" <sip:+15551230001@trunk.example;user=phone>', "+15551230001"),
    ("sip:1000@127.0.0.1:5062", "1000"),
    ("tel:+15551230002", "+15551230002"),
    ("anonymous", "anonymous"),
])
def test_call_data_takes_numbers_from_sip_uris(uri: str, number: str) -> None:
    info = CallInfo("c9", Direction.INBOUND, from_uri=uri, to_uri="sip:100@engine")
    data = CallData.from_call(info)
    assert (data.caller_number, data.called_number, data.call_id) == (number, "100", "c9")
