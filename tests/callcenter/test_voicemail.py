"""Recording a caller's message: what ends it, what is kept, where it goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

from callcenter.voicemail import record_message, voicemail_name
from sip.call import SipCall
from tests.support.audio import level_at, read_wav, tone

RATE = 8000
FRAME = RATE // 50


class FakeCall:
    """The parts of a SipCall a recording uses: audio frames, keys, the end."""

    def __init__(self, audio: np.ndarray, *, keys: dict[int, str] | None = None,
                 hang_up_after: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.media = type("Media", (), {"clock_rate": RATE})()
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.ended: asyncio.Future[Any] = loop.create_future()
        self._audio = audio.astype("<i2")
        self._keys = keys or {}
        self._hang_up_after = hang_up_after

    async def frames(self) -> AsyncIterator[bytes]:
        for index in range(len(self._audio) // FRAME):
            if index in self._keys:
                self.dtmf.put_nowait(self._keys[index])
            if index == self._hang_up_after:
                self.ended.set_result(None)
                return
            yield self._audio[index * FRAME:(index + 1) * FRAME].tobytes()
            await asyncio.sleep(0)
        await asyncio.Event().wait()  # the line stays open


def _record(call: FakeCall, path: Path, **kwargs: Any) -> Any:
    return record_message(cast(SipCall, call), path, **kwargs)


def _speech_then_quiet(speech_s: float, quiet_s: float) -> np.ndarray:
    return np.concatenate([tone(700.0, speech_s), np.zeros(int(RATE * quiet_s), "<i2")])


async def test_silence_ends_the_message_and_the_quiet_tail_is_cut(tmp_path: Path) -> None:
    call = FakeCall(_speech_then_quiet(2.0, 10.0))
    message = await _record(call, tmp_path / "m.wav", max_s=60, silence_s=3)
    assert message.ended_by == "silence"
    assert abs(message.duration_s - 2.0) < 0.05
    samples, rate = read_wav(message.path)
    assert rate == RATE and len(samples) == int(message.duration_s * RATE)
    assert level_at(samples[:, 0], rate, 700.0) > 0.9


async def test_the_end_key_max_length_and_hang_up_end_it_too(tmp_path: Path) -> None:
    keyed = FakeCall(_speech_then_quiet(5.0, 1.0), keys={100: "5", 150: "#"})
    message = await _record(keyed, tmp_path / "k.wav", max_s=60, silence_s=3)
    assert message.ended_by == "key" and 2.9 < message.duration_s < 3.1

    long = FakeCall(tone(700.0, 20.0))
    message = await _record(long, tmp_path / "l.wav", max_s=5, silence_s=3)
    assert message.ended_by == "max" and abs(message.duration_s - 5.0) < 0.05

    gone = FakeCall(tone(700.0, 20.0), hang_up_after=200)
    message = await _record(gone, tmp_path / "g.wav", max_s=60, silence_s=3)
    assert message.ended_by == "hangup" and abs(message.duration_s - 4.0) < 0.05
    assert (tmp_path / "g.wav").is_file() and not (tmp_path / "g.part").exists()


def test_file_names_sort_by_time_and_name_the_call() -> None:
    at = datetime(2026, 12, 1, 20, 5, 9, tzinfo=UTC)
    assert voicemail_name("c0ffee", at) == "20261201T200509Z-c0ffee.wav"
