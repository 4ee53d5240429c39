"""A caller handed to a person may come back: `on_return` of a transfer or of the escalation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialog import DialogRunner, Ending, FlowError, TransferResult, TransferTarget, load_flow
from dialog.record_stores import InMemoryRecordStore
from tests.dialog.fakes import SILENCE, ScriptedCaller, press

FLOW = """\
flow: desk
start: menu
queues:
  desk: {}
escalation:
  queue: desk
  after_failures: 2
  say: Let me get someone.
  agent_say: Connecting you.
  unavailable: Nobody is free. Goodbye.
  on_return: welcome_back
states:
  menu:
    say: Press 1 for the desk.
    menu:
      desk:
        dtmf: 1
        keywords: [desk]
        do:
          - transfer: {queue: desk, on_return: after_desk}
  after_desk:
    do:
      - hangup: Thanks for talking to the desk. Goodbye.
  welcome_back:
    do:
      - hangup: Welcome back. Goodbye.
"""


@dataclass
class ScriptedTransfers:
    """A transferrer answering each transfer with the next scripted result."""

    results: list[bool | TransferResult]
    targets: list[TransferTarget] = field(default_factory=list)

    async def transfer(self, target: TransferTarget) -> bool | TransferResult:
        self.targets.append(target)
        return self.results.pop(0)


def _runner(tmp_path: Path, flow: str, caller: ScriptedCaller,
            transfers: ScriptedTransfers) -> DialogRunner:
    path = tmp_path / "desk.yaml"
    path.write_text(flow, encoding="utf-8")
    return DialogRunner(load_flow(path), caller, records=InMemoryRecordStore(),
                        transferrer=transfers, clock=lambda: datetime(2025, 6, 4, tzinfo=UTC))


async def test_a_returned_caller_goes_on_at_the_transfer_on_return(tmp_path: Path) -> None:
    caller = ScriptedCaller([press("1")])
    transfers = ScriptedTransfers([TransferResult.RETURNED])
    outcome = await _runner(tmp_path, FLOW, caller, transfers).run()
    assert transfers.targets == [TransferTarget(queue="desk")]
    assert not transfers.targets[0].escalated
    assert (outcome.ending, outcome.state) == (Ending.COMPLETED, "after_desk")
    assert caller.texts[-1] == "Thanks for talking to the desk. Goodbye." and caller.hung_up


async def test_escalated_callers_come_back_at_the_escalation_on_return(tmp_path: Path) -> None:
    caller = ScriptedCaller([SILENCE, SILENCE])
    transfers = ScriptedTransfers([TransferResult.RETURNED])
    outcome = await _runner(tmp_path, FLOW, caller, transfers).run()
    assert transfers.targets[0].escalated  # after two failures, not at the caller's request
    assert (outcome.ending, outcome.state) == (Ending.COMPLETED, "welcome_back")
    assert caller.texts[-1] == "Welcome back. Goodbye."


async def test_asking_for_a_person_is_no_escalation(tmp_path: Path) -> None:
    caller = ScriptedCaller([press("0")])
    transfers = ScriptedTransfers([True])
    outcome = await _runner(tmp_path, FLOW, caller, transfers).run()
    assert outcome.ending is Ending.TRANSFERRED and not outcome.escalated
    assert not transfers.targets[0].escalated


async def test_without_on_return_a_returned_caller_ends_the_run(tmp_path: Path) -> None:
    flow = FLOW.replace("  on_return: welcome_back\n", "").replace(", on_return: after_desk", "")
    flow = flow.replace("""  welcome_back:
    do:
      - hangup: Welcome back. Goodbye.
""", "").replace("""  after_desk:
    do:
      - hangup: Thanks for talking to the desk. Goodbye.
""", "")
    caller = ScriptedCaller([press("1")])
    outcome = await _runner(tmp_path, flow, caller,
                            ScriptedTransfers([TransferResult.RETURNED])).run()
    assert (outcome.ending, outcome.state) == (Ending.TRANSFERRED, "menu")
    assert outcome.target == TransferTarget(queue="desk") and not caller.hung_up


def test_on_return_targets_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(FLOW.replace("on_return: after_desk", "on_return: nowhere")
                    .replace("on_return: welcome_back", "on_return: nor_here"))
    with pytest.raises(FlowError) as failed:
        load_flow(path)
    message = str(failed.value)
    assert "desk.yaml:11: unknown target state 'nor_here'" in message, message
    assert "desk.yaml:20: unknown target state 'nowhere'" in message, message
