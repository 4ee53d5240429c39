"""Runner rules beyond the demo: branches on values, failed transfers, own agent
handling, the confidence floor, digit and text slots, variables in data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from callcenter.core.listening import EndpointerConfig
from dialog.flow import Flow
from dialog.flow_loader import load_flow
from dialog.ports import CallData, Ending, ListenSettings, TransferTarget
from dialog.record_stores import InMemoryRecordStore
from dialog.runner import DialogRunner
from tests.dialog.fakes import SILENCE, FakeTransferrer, ScriptedCaller, press, say

FLOW = """\
flow: bank
start: check
listen: {min_confidence: 0.5, end_silence_complete_ms: 400, min_speech_ms: 150}
variables: {tier: gold}
queues: {desk: {}, vip: {uri: "sip:vip@example.net"}}
escalation: {queue: desk, after_failures: 2}
records:
  account: {fields: [pin, note]}
states:
  check:
    branch:
      - when: tier
        equals: gold
        goto: menu
      - goto: bye
  menu:
    say: Say pin, note, or vip.
    menu:
      pin: {dtmf: 1, keywords: [pin], goto: ask_pin}
      note: {dtmf: 2, keywords: [note], goto: ask_note}
      vip:
        dtmf: 3
        keywords: [vip]
        do:
          - transfer: {queue: vip, on_fail: menu}
      agent:
        phrases: ["a banker"]
        goto: bye
  ask_pin:
    say: Your four digit pin?
    ask: {slot: pin, type: digits, min_length: 4, max_length: 4}
    do:
      - set: {tries: 1}
    goto: save
  ask_note:
    say: Your note?
    listen: {end_silence_ms: 1500, min_speech_ms: 250}  # notes come with pauses
    ask: {slot: note, type: text}
    goto: save
  save:
    do:
      - update: {record: account, key: "{caller_number}", fields: {pin: "{pin}", note: "{note}"}}
      - hangup: "Saved {pin:digits}. Goodbye."
  bye:
    do:
      - hangup: Goodbye.
"""


def run_call(tmp_path: Path, *script: object, accept: bool = True,
             listen_defaults: ListenSettings | None = None,
             ) -> tuple[ScriptedCaller, FakeTransferrer, InMemoryRecordStore, DialogRunner]:
    path = tmp_path / "bank.yaml"
    path.write_text(FLOW, encoding="utf-8")
    flow: Flow = load_flow(path)
    io = ScriptedCaller(list(script))  # type: ignore[arg-type]
    transfers = FakeTransferrer(accept=accept)
    store = InMemoryRecordStore()
    runner = DialogRunner(flow, io, records=store, transferrer=transfers,
                          call=CallData(caller_number="42"),
                          clock=lambda: datetime(2025, 6, 4, tzinfo=UTC),
                          listen_defaults=listen_defaults)
    return io, transfers, store, runner


def silences_and_speech(settings: ListenSettings) -> tuple[int, int, int]:
    """The long and the short end silence and the minimum speech of a turn."""
    got = settings.endpointing
    return got.end_silence_ms_incomplete, got.end_silence_ms_complete, got.min_speech_ms


async def test_digits_slot_by_voice_and_data_written_as_typed(tmp_path: Path) -> None:
    io, _, store, runner = run_call(tmp_path, say("pin"), say("one two three"),
                                    say("one two three four"))
    outcome = await runner.run()
    assert outcome.ending is Ending.COMPLETED
    assert store.records["account"]["42"] == {"pin": "1234", "note": None}  # unset: null
    assert io.texts[-1] == "Saved 1 2 3 4. Goodbye."
    assert outcome.variables["tries"] == 1


async def test_text_slot_takes_any_words(tmp_path: Path) -> None:
    _, _, store, runner = run_call(tmp_path, press("2"), say("call me after five"))
    await runner.run()
    assert store.records["account"]["42"]["note"] == "call me after five"


async def test_digit_groups_and_notes_are_not_cut_at_the_short_silence(tmp_path: Path
                                                                       ) -> None:
    io, _, _, runner = run_call(tmp_path, say("pin"), say("one two three four"))
    await runner.run()
    (_, menu), (_, pin) = io.listens
    # the flow sets 400 ms for answers that sound finished; a pin is read in
    # groups, so its state waits for the long silence
    assert menu.endpointing.end_silence_ms_complete == 400
    assert pin.endpointing.end_silence_ms_complete == 1000  # the node's long silence
    assert pin.endpointing.end_silence_ms_incomplete == 1000


async def test_endpointing_is_set_per_flow_and_state(tmp_path: Path) -> None:
    io, _, _, runner = run_call(tmp_path, press("2"), say("call me after five"))
    await runner.run()
    (_, menu), (_, note) = io.listens
    assert silences_and_speech(menu) == (1000, 400, 150)
    # a free-text note waits for its long silence (see the test above)
    assert silences_and_speech(note) == (1500, 1500, 250)


async def test_the_node_sets_what_flow_and_state_leave_open(tmp_path: Path) -> None:
    node = ListenSettings(endpointing=EndpointerConfig(
        end_silence_ms_incomplete=1200, max_utterance_ms=20000, no_input_timeout_ms=None,
        preroll_ms=100))
    io, _, _, runner = run_call(tmp_path, press("2"), say("call me after five"),
                                listen_defaults=node)
    await runner.run()
    (_, menu), (_, note) = io.listens
    got = menu.endpointing
    assert (got.end_silence_ms_incomplete, got.max_utterance_ms, got.preroll_ms) == (
        1200, 20000, 100)
    assert got.no_input_timeout_ms is None  # the node's "no timeout" stays so
    assert note.endpointing.end_silence_ms_incomplete == 1500  # the state's own


async def test_failed_transfer_goes_to_on_fail(tmp_path: Path) -> None:
    _, transfers, _, runner = run_call(tmp_path, say("vip"), press("1"), press("9999"),
                                       accept=False)
    outcome = await runner.run()
    assert transfers.targets == [TransferTarget(queue="vip", uri="sip:vip@example.net")]
    assert outcome.ending is Ending.COMPLETED and outcome.state == "save"


async def test_a_menu_may_handle_agent_itself(tmp_path: Path) -> None:
    for turn in (say("operator"), say("a banker please"), press("0")):
        _, transfers, _, runner = run_call(tmp_path, turn)
        outcome = await runner.run()
        assert (outcome.state, transfers.targets) == ("bye", [])


async def test_low_confidence_counts_as_not_understood(tmp_path: Path) -> None:
    _, transfers, _, runner = run_call(tmp_path, say("pin", confidence=0.2), SILENCE)
    outcome = await runner.run()
    assert outcome.ending is Ending.TRANSFERRED and outcome.escalated
    assert transfers.targets == [TransferTarget(queue="desk")]


async def test_branch_fallback_when_value_differs(tmp_path: Path) -> None:
    _, _, _, runner = run_call(tmp_path)
    runner.variables["tier"] = "silver"
    outcome = await runner.run()
    assert outcome.state == "bye"
