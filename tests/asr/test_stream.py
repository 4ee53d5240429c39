"""UtteranceStream with a scripted VAD and a fake recognizer (no model)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from asr.endpointing import EndpointerConfig, NoInput, SpeechStarted
from asr.settings import AsrSettings
from asr.stream import Final, Partial, StreamEvent, UtteranceStream, VoiceOnset
from callcenter.core.speech import Transcript

#: When the default short end silence ends an utterance (whole 20 ms frames).
SHORT_MS = -(-EndpointerConfig().end_silence_ms_complete // 20) * 20

RATE = 8000
VOICED = b"\x01" * 320
SILENT = b"\x00" * 320


class ScriptedVad:
    """Voiced frames are the ones filled with 0x01."""

    def is_speech(self, frame: bytes) -> bool:
        return frame[0] == 1


class FakeRecognizer:
    """Answers with scripted texts; finals and partials can be held back."""

    def __init__(self, partial_text: str | None = "my name is",
                 final_text: Callable[[int], str] = lambda n: f"utterance {n}") -> None:
        self.partial_text = partial_text
        self.final_text = final_text
        self.calls: list[tuple[int, bool, tuple[str, ...]]] = []
        self.finals = 0
        self.hold_final: dict[int, asyncio.Event] = {}
        self.hold_partials: asyncio.Event | None = None

    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        self.calls.append((len(pcm), final, tuple(hints)))
        if final:
            number = self.finals
            self.finals += 1
            if number in self.hold_final:
                await self.hold_final[number].wait()
            return Transcript(self.final_text(number), is_final=True,
                              audio_seconds=len(pcm) / 2 / rate)
        if self.hold_partials is not None:
            await self.hold_partials.wait()
        if self.partial_text is None:
            return None
        return Transcript(self.partial_text, is_final=False)


class Harness:
    def __init__(self, recognizer: FakeRecognizer, **kwargs: object) -> None:
        self.stream = UtteranceStream(recognizer, RATE, vad=ScriptedVad(),
                                      **kwargs)  # type: ignore[arg-type]
        self.events: list[StreamEvent] = []
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.stream:
            if not isinstance(event, VoiceOnset):  # the barge-in signal: tested apart
                self.events.append(event)

    async def play(self, pattern: str) -> None:
        for char in pattern:
            self.stream.feed(VOICED if char == "1" else SILENT)
            for _ in range(3):
                await asyncio.sleep(0)

    async def until(self, kind: type, count: int = 1, timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                await asyncio.sleep(0.001)

    def of(self, kind: type) -> list[StreamEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def finals(self) -> list[Final]:
        return [e for e in self.events if isinstance(e, Final)]

    async def close(self) -> None:
        await self.stream.aclose()
        await self._task


def pattern(*parts: tuple[str, int]) -> str:
    return "".join(char * (duration // 20) for char, duration in parts)


async def test_speech_partials_and_one_final() -> None:
    fake = FakeRecognizer()
    h = Harness(fake)
    h.stream.listen(hints=["Margaret", "Thompson"])
    await h.play(pattern(("0", 200), ("1", 1500), ("0", 1200)))
    await h.until(Final)
    await h.close()
    kinds = [type(e) for e in h.events]
    assert kinds[0] is SpeechStarted and kinds[-1] is Final
    assert kinds.count(Final) == 1 and kinds.count(Partial) >= 2
    final = h.of(Final)[0]
    assert isinstance(final, Final)
    assert final.transcript.text == "utterance 0" and final.reason == "silence"
    # "my name is" does not look complete: the long end silence applies
    assert final.end_ms == 200 + 1500 + 1000
    # 200 ms of pre-roll: all the stream had before the onset
    assert final.audio_seconds == pytest.approx((200 + 1500 + 1000) / 1000)
    assert final.speech_ms == 1500 and final.onset_ms == 200
    assert all(hints == ("Margaret", "Thompson") for _, _, hints in fake.calls)


async def test_partials_are_decoded_only_while_wanted() -> None:
    fake = FakeRecognizer()
    h = Harness(fake)
    watched = False
    h.stream.wants_partials = lambda: watched
    await h.play(pattern(("1", 1500), ("0", 1200)))
    await h.until(Final)
    assert not [c for c in fake.calls if not c[1]], "nobody watched: no partial decoded"
    watched = True
    await h.play(pattern(("1", 1500), ("0", 1200)))
    await h.until(Final, 2)
    await h.close()
    assert len(h.of(Partial)) >= 2 and len(h.finals()) == 2


async def test_a_complete_looking_pause_ends_the_turn_sooner() -> None:
    h = Harness(FakeRecognizer(final_text=lambda _: "Yes, that is correct."))
    await h.play(pattern(("1", 1500), ("0", 1200)))
    await h.until(Final)
    await h.close()
    final = h.of(Final)[0]
    assert isinstance(final, Final)
    assert final.end_ms == 1500 + SHORT_MS


async def test_the_final_decoded_at_a_pause_is_the_final() -> None:
    fake = FakeRecognizer(partial_text=None)
    h = Harness(fake)
    await h.play(pattern(("1", 1500), ("0", 1200)))
    await h.until(Final)
    await h.close()
    finals = [n for n, final, _ in fake.calls if final]
    # decoded once, at the pause probe, on the audio up to then
    assert finals == [(1500 + AsrSettings().pause_probe_ms) * 16]
    assert h.stream.speculations == h.stream.speculations_used == 1


async def test_speech_after_a_pause_voids_the_speculative_final() -> None:
    fake = FakeRecognizer(final_text=lambda n: f"Yes {n}.")
    h = Harness(fake)
    await h.play(pattern(("1", 1500), ("0", 200), ("1", 1000), ("0", 1200)))
    await h.until(Final)
    await h.close()
    assert len(h.of(Final)) == 1
    final = h.of(Final)[0]
    assert isinstance(final, Final) and final.end_ms == 1500 + 200 + 1000 + SHORT_MS
    assert final.transcript.text == "Yes 1."  # the first pause's "Yes 0." was void
    assert h.stream.speculations == 2 and h.stream.speculations_used == 1


async def test_the_dialog_hint_wins_over_recognition() -> None:
    h = Harness(FakeRecognizer(partial_text="Yes.", final_text=lambda _: "Yes."))
    await h.play(pattern(("1", 1000)))
    h.stream.set_complete_hint(False)
    await h.play(pattern(("1", 500), ("0", 1200)))
    await h.until(Final)
    await h.close()
    final = h.of(Final)[0]
    assert isinstance(final, Final) and final.end_ms == 1500 + 1000


async def test_finals_come_out_in_utterance_order() -> None:
    fake = FakeRecognizer(partial_text=None, final_text=lambda n: f"utterance {n}.")
    held = fake.hold_final[0] = asyncio.Event()
    h = Harness(fake)
    await h.play(pattern(("1", 600), ("0", 800), ("1", 600), ("0", 800)))
    await asyncio.sleep(0.01)
    assert h.of(Final) == []  # the second is done but waits for the first
    held.set()
    await h.until(Final, 2)
    await h.close()
    assert [e.transcript.text for e in h.finals()] == ["utterance 0.", "utterance 1."]
    assert [e.utterance for e in h.finals()] == [0, 1]


async def test_skipped_partials_still_give_a_final() -> None:
    h = Harness(FakeRecognizer(partial_text=None))
    await h.play(pattern(("1", 2000), ("0", 1200)))
    await h.until(Final)
    await h.close()
    assert h.of(Partial) == []


async def test_a_late_partial_of_an_ended_utterance_is_dropped() -> None:
    fake = FakeRecognizer()
    fake.hold_partials = asyncio.Event()
    h = Harness(fake)
    await h.play(pattern(("1", 1000), ("0", 1200)))
    await h.until(Final)
    fake.hold_partials.set()
    await asyncio.sleep(0.01)
    await h.close()
    assert h.of(Partial) == []


async def test_no_input_after_listen() -> None:
    h = Harness(FakeRecognizer())
    await h.play(pattern(("0", 2000)))
    assert h.of(NoInput) == []  # not armed yet
    h.stream.listen(EndpointerConfig(no_input_timeout_ms=1000))
    await h.play(pattern(("0", 1500)))
    await h.until(NoInput)
    h.stream.listen()
    h.stream.stop_no_input_timer()
    await h.play(pattern(("0", 1500)))
    await h.close()
    assert len(h.of(NoInput)) == 1
    assert h.stream.config.no_input_timeout_ms == 1000


async def test_reconfigure_keeps_the_turn() -> None:
    fake = FakeRecognizer(partial_text=None)
    h = Harness(fake)
    h.stream.listen(EndpointerConfig(no_input_timeout_ms=1000), hints=["a"])
    await h.play(pattern(("0", 500)))
    h.stream.reconfigure(hints=["b"])
    await h.play(pattern(("0", 600)))
    await h.until(NoInput)
    await h.play(pattern(("1", 600), ("0", 1200)))
    await h.until(Final)
    await h.close()
    assert fake.calls[-1][2] == ("b",)


async def test_close_ends_iteration_and_ignores_more_audio() -> None:
    h = Harness(FakeRecognizer())
    await h.play(pattern(("1", 700)))
    assert h.stream.in_speech
    await h.close()
    h.stream.feed(VOICED)
    assert h.of(Final) == []


async def test_from_settings() -> None:
    settings = AsrSettings.model_validate(
        {"partial_interval_ms": 300, "endpointing": {"end_silence_ms_incomplete": 700}})
    stream = UtteranceStream.from_settings(FakeRecognizer(), RATE, settings)
    assert stream.config.end_silence_ms_incomplete == 700
    stream.feed(SILENT)
    await stream.aclose()


async def test_a_final_keeps_the_hints_of_its_turn() -> None:
    fake = FakeRecognizer(partial_text="my name is")
    h = Harness(fake)
    h.stream.listen(hints=["Margaret"])
    await h.play(pattern(("1", 1000), ("0", 980)))
    h.stream.feed(SILENT)  # the utterance ends on this frame
    h.stream.listen(hints=["next state"])
    await h.until(Final)
    await h.play(pattern(("0", 2000)))  # silence after the end asks for nothing
    await h.close()
    finals = [hints for _, final, hints in fake.calls if final]
    assert finals == [("Margaret",)]
    partials = [n for n, final, _ in fake.calls if not final]
    assert partials == [9600]  # at 600 ms of audio; the pause decodes the final
