"""The screen over a call's frames, with a fake call (the detector is real):
frames that stop coming, and a machine that hangs up before its beep, end
each wait in bounded time with the answer the campaign call relies on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from callcenter.answer_screen import AnswerScreen
from callcenter.core.settings import AnsweringMachineSettings
from outbound.answering_machine import Verdict
from sip.call import SipCall

RATE = 8000


@dataclass
class _Media:
    clock_rate: int = RATE


@dataclass
class FakeCall:
    """Frames from a list, then (``hang_up``) the call ends, or nothing more comes."""

    frames_given: list[bytes]
    hang_up: bool = False
    id: str = "fake"
    media: _Media = field(default_factory=_Media)
    ended: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop()
                                       .create_future())

    async def frames(self) -> AsyncIterator[bytes]:
        for frame in self.frames_given:
            await asyncio.sleep(0)
            yield frame
        if self.hang_up:
            self.ended.set_result(None)
            return
        await asyncio.Event().wait()  # the media stopped: nothing more, ever


def _frames(audio: np.ndarray) -> list[bytes]:
    pcm = audio.astype("<i2").tobytes()
    return [pcm[i:i + 320] for i in range(0, len(pcm) - 319, 320)]


async def test_frames_that_stop_coming_count_as_a_person_in_bounded_time() -> None:
    settings = AnsweringMachineSettings(decision_s=1.0)
    call = FakeCall(_frames(np.zeros(RATE // 2)))  # 0.5 s of audio, then nothing
    screen = AnswerScreen(cast(SipCall, call), settings)
    loop = asyncio.get_running_loop()
    began = loop.time()
    decision = await screen.decide()
    await screen.close()
    assert (decision.verdict, decision.reason, decision.at_s) == (Verdict.HUMAN, "no_audio", 0.5)
    assert loop.time() - began < settings.decision_s + 2.5


async def test_a_machine_that_hangs_up_before_its_beep_gets_no_cue() -> None:
    t = np.arange(RATE // 4) / RATE
    beep = 8000 * np.sin(2 * np.pi * 1000 * t)  # decides "machine"; then the line drops
    call = FakeCall(_frames(np.concatenate([np.zeros(RATE // 4), beep])), hang_up=True)
    screen = AnswerScreen(cast(SipCall, call), AnsweringMachineSettings())
    decision = await screen.decide()
    assert (decision.verdict, decision.reason) == (Verdict.MACHINE, "beep")
    assert await asyncio.wait_for(screen.message_cue(), 5) is None
    await screen.close()
