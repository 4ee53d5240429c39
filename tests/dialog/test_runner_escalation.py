"""Why a runner hands a caller over: upset (tone, pace, words), asked, dtmf,
no_match, no_input; each transfer carries its reason and context."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.speech import UtteranceScores
from dialog import DialogRunner, Ending, TransferTarget, load_flow
from dialog.ports import CallerInput
from dialog.record_stores import InMemoryRecordStore
from tests.dialog.fakes import SILENCE, FakeTransferrer, ScriptedCaller, press, say

FLOW = """\
flow: desk
start: menu
queues:
  desk: {}
  upset-desk: {}
escalation:
  queue: desk
  after_failures: 2
  upset:
    queue: upset-desk
    priority_boost: 40
    say: Let me get you someone right away.
states:
  menu:
    say: Say reschedule or cancel.
    menu:
      reschedule:
        dtmf: 3
        keywords: [reschedule]
        goto: day
      cancel:
        dtmf: 2
        keywords: [cancel]
        goto: bye
  day:
    say: Which day?
    ask: {slot: day, type: date}
    goto: bye
  bye:
    do:
      - hangup: Goodbye.
"""


def voice(index: int, tone: float = 0.0, *, baseline: bool = False) -> UtteranceScores:
    return UtteranceScores(index, float(index), tone, 0.0, baseline=baseline)


def spoken(text: str, *scores: UtteranceScores) -> CallerInput:
    return CallerInput.speech(text, 0.9, scores)


async def run(tmp_path: Path, script: list[CallerInput | str],
              flow: str = FLOW) -> tuple[ScriptedCaller, TransferTarget, Ending]:
    path = tmp_path / "desk.yaml"
    path.write_text(flow, encoding="utf-8")
    caller, transfers = ScriptedCaller(script), FakeTransferrer()
    runner = DialogRunner(load_flow(path), caller, records=InMemoryRecordStore(),
                          transferrer=transfers)
    outcome = await runner.run()
    assert len(transfers.targets) == 1
    return caller, transfers.targets[0], outcome.ending


async def test_an_upset_caller_goes_to_the_upset_queue_ahead(tmp_path: Path) -> None:
    caller, target, ending = await run(tmp_path, [
        spoken("reschedule", voice(0, baseline=True), voice(1, baseline=True)),
        spoken("tuesday", voice(2, 0.9))])
    assert ending is Ending.TRANSFERRED
    assert caller.texts[-1] == "Let me get you someone right away."
    assert target.queue == "upset-desk" and target.escalated and target.priority_boost == 40
    why = target.why
    assert why is not None and why.reason == "tone" and why.state == "day"
    assert why.intent == "reschedule"
    assert why.scores["tone"] == [0.9] and why.scores["utterances"] == [2]
    assert why.scores["trend"]["peak"] == 0.9


async def test_voice_without_words_is_scored_but_no_failure(tmp_path: Path) -> None:
    calm = [voice(0, baseline=True), voice(1, baseline=True)]
    _, target, _ = await run(tmp_path, [
        spoken("", *calm), spoken("", voice(2, 0.1)), spoken("", voice(3, 0.95))])
    assert target.why is not None and target.why.reason == "tone"
    assert target.why.state == "menu"


async def test_words_escalate(tmp_path: Path) -> None:
    _, target, _ = await run(tmp_path, [say("get me your supervisor")])
    assert target.why is not None and target.why.reason == "words"
    assert target.why.scores["word_hits"] == ["supervisor"]


async def test_off_switch(tmp_path: Path) -> None:
    flow = FLOW.replace("    queue: upset-desk\n", "    queue: upset-desk\n    enabled: false\n")
    _, target, _ = await run(tmp_path, [say("get me your supervisor"), press("0")], flow)
    assert target.queue == "desk" and target.why is not None
    assert target.why.reason == "dtmf" and not target.escalated


@pytest.mark.parametrize(("script", "reason", "escalated"), [
    ([say("an agent please")], "asked", False),
    ([press("0")], "dtmf", False),
    ([say("pineapple"), say("banana")], "no_match", True),
    ([say("pineapple"), SILENCE], "no_input", True),
])
async def test_every_transfer_names_its_reason(tmp_path: Path, script: list[CallerInput | str],
                                               reason: str, escalated: bool) -> None:
    _, target, _ = await run(tmp_path, script)
    assert target.queue == "desk" and target.escalated is escalated
    assert target.why is not None and target.why.reason == reason
    assert target.why.variables["caller_number"] == ""
