"""A live campaign call's person side with fakes of the call, the store and the
conversations: an opt-out puts the number on the DNC list before the goodbye
and the BYE and ends the flow; a flow's result comes back with the greeting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from callcenter.campaign_calls import SipCampaignCalls, _Greeting
from callcenter.campaign_opt_out import OptOut
from callcenter.core.call_control import DialOutcome, OutboundCall
from callcenter.core.settings import load_settings
from dialog.ports import CallerInput, DialogOutcome, Ending

T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
CALL = OutboundCall(number="+12125550161", trunk="t", ring_timeout_s=15, flow="reminder",
                    contact={"campaign": "c1", "business_name": "Riverside Clinic",
                             "callback_number": "+12025550100", "name": "Maria Lopez",
                             "message_kind": "healthcare_reminder"})


@dataclass
class _Media:
    clock_rate: int = 8000


class _Call:
    def __init__(self, events: list[str]) -> None:
        self.id = "call-1"
        self.media = _Media()
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.events = events

    def play(self, pcm: bytes) -> asyncio.Future[bool]:
        self.events.append("play")
        done = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done

    def stop_audio(self) -> None:
        self.events.append("stop_audio")

    async def played_out(self, timeout: float = 0.5) -> None:
        pass

    async def hangup(self, reason: Any = None) -> None:
        self.events.append("hangup")
        self.ended.set_result(None)


class _Voice:
    async def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        yield bytes(320)


@dataclass
class _Journal:
    turns: list[tuple[str, str]] = field(default_factory=list)

    def turn(self, call: Any, *, speaker: str, text: str, **_: Any) -> None:
        self.turns.append((speaker, text))


class _Dialogs:
    """Runs a "flow" that does what the test says with the call's `on_heard`."""

    def __init__(self, flow: Callable[[Callable[[CallerInput], None]], Any]) -> None:
        self.synthesizer = _Voice()
        self.journal = _Journal()
        self.flows: dict[str, Any] = {}
        self._flow = flow
        self.cancelled = False
        self.prelude: str | None = None

    async def run_call(self, call: Any, *, flow: str, contact: Any, prelude: str,
                       on_heard: Callable[[CallerInput], None]) -> DialogOutcome | None:
        self.prelude = prelude
        try:
            return cast(DialogOutcome | None, await self._flow(on_heard))
        except asyncio.CancelledError:
            self.cancelled = True
            raise


@dataclass
class _Store:
    events: list[str]
    added: list[tuple[str, str]] = field(default_factory=list)

    async def add_to_internal_dnc(self, number: str, *, source: str, actor: str,
                                  reason: str | None = None) -> bool:
        self.events.append("dnc")
        self.added.append((number, source))
        return True


def _calls(dialogs: _Dialogs, store: _Store) -> SipCampaignCalls:
    return SipCampaignCalls(cast(Any, None), load_settings(), cast(Any, dialogs),
                            cast(Any, None), cast(Any, store), clock=lambda: T0)


async def test_an_opt_out_is_on_the_list_before_the_goodbye_and_the_bye() -> None:
    events: list[str] = []

    async def flow(on_heard: Callable[[CallerInput], None]) -> None:
        on_heard(CallerInput.speech("yes", 0.9))
        on_heard(CallerInput.dtmf("9"))
        await asyncio.sleep(60)  # the flow would go on: the opt-out ends it

    dialogs, store = _Dialogs(flow), _Store(events)
    greeting = _Greeting(lambda: T0)
    greeting.greeted()
    result = await asyncio.wait_for(
        _calls(dialogs, store)._converse(cast(Any, _Call(events)), CALL, greeting), 5)
    assert dialogs.cancelled and dialogs.prelude and "press 9 or say stop" in dialogs.prelude
    assert store.added == [("+12125550161", "opt_out_dtmf")]
    assert events == ["stop_audio", "dnc", "play", "hangup"]
    assert (result.outcome, result.reason, result.result, result.result_detail) == (
        DialOutcome.OPTED_OUT, "opt_out_dtmf", "opted_out", "key 9")
    assert (result.greeted_at, result.abandoned) == (T0, False)
    assert ("caller", "9") in dialogs.journal.turns


async def test_the_flow_result_comes_back_with_the_greeting() -> None:
    events: list[str] = []

    async def flow(on_heard: Callable[[CallerInput], None]) -> DialogOutcome:
        on_heard(CallerInput.speech("I'll stop by on Tuesday", 0.9))  # no opt-out
        return DialogOutcome(Ending.COMPLETED, "rescheduled", {
            "result": "rescheduled", "result_detail": "2026-01-20T10:30"})

    dialogs, store = _Dialogs(flow), _Store(events)
    result = await _calls(dialogs, store)._converse(cast(Any, _Call(events)), CALL,
                                                   _Greeting(lambda: T0))
    assert (result.outcome, result.result, result.result_detail) == (
        DialOutcome.ANSWERED, "rescheduled", "2026-01-20T10:30")
    assert store.added == [] and events == []
    assert result.greeted_at is None  # never greeted (and the call lasted no time)
    assert result.abandoned is False


async def test_a_person_taken_for_a_machine_may_still_press_9(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    calls = _calls(_Dialogs(lambda _: asyncio.sleep(0)), _Store(events))
    sip_call = _Call(events)
    sip_call.dtmf = asyncio.Queue()  # type: ignore[attr-defined]

    async def long_message(*_: Any) -> tuple[str, str]:
        await asyncio.sleep(60)
        return "machine_message_left", "never"

    monkeypatch.setattr("callcenter.campaign_calls.leave_machine_message", long_message)
    for key in "59":
        sip_call.dtmf.put_nowait(key)  # type: ignore[attr-defined]
    left = await asyncio.wait_for(calls._machine(cast(Any, sip_call), CALL, cast(Any, None)), 5)
    assert left == OptOut("opt_out_dtmf", "9")

    async def short_message(*_: Any) -> tuple[str, str]:
        return "machine_message_left", "message after the beep"

    monkeypatch.setattr("callcenter.campaign_calls.leave_machine_message", short_message)
    assert await calls._machine(cast(Any, sip_call), CALL, cast(Any, None)) == (
        "machine_message_left", "message after the beep")
