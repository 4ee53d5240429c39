"""The endpointer, fed scripted voice decisions (no audio, no clock)."""

from __future__ import annotations

import pytest

from asr.endpointing import (
    Endpointer,
    EndpointerConfig,
    EndpointEvent,
    MaxLengthReached,
    NoInput,
    SpeechStarted,
    UtteranceEnded,
    VoiceOnset,
    looks_complete,
)

FRAME_MS = 20
#: The default short end silence, and when it ends an utterance (whole 20 ms frames).
COMPLETE_MS = EndpointerConfig().end_silence_ms_complete
SHORT_MS = -(-COMPLETE_MS // 20) * 20


def frame(index: int) -> bytes:
    """A 20 ms 8 kHz frame whose bytes tell which frame it was."""
    return index.to_bytes(4, "little") * 80


def frame_index(audio: bytes, position: int = 0) -> int:
    start = position * 320
    return int.from_bytes(audio[start:start + 4], "little")


def run(ep: Endpointer, pattern: str, start: int = 0, *,
        onsets: bool = False) -> list[tuple[int, EndpointEvent]]:
    """Push a pattern of '1' (voiced) and '0'; events with their frame index
    (VoiceOnset, the barge-in signal, only when `onsets`)."""
    out: list[tuple[int, EndpointEvent]] = []
    for offset, char in enumerate(pattern):
        index = start + offset
        out += [(index, event) for event in ep.push(char == "1", frame(index))
                if onsets or not isinstance(event, VoiceOnset)]
    return out


def ms(duration: int) -> int:
    return duration // FRAME_MS


def test_silence_alone_reports_nothing_until_armed() -> None:
    ep = Endpointer()
    assert run(ep, "0" * ms(20_000)) == []
    ep.arm()
    events = run(ep, "0" * ms(9_000), start=ms(20_000))
    assert [type(e) for _, e in events] == [NoInput]
    index, event = events[0]
    assert isinstance(event, NoInput)
    assert event.waited_ms == 8000 and event.at_ms == 28_000
    assert index == ms(28_000) - 1


def test_no_input_fires_once_per_arm() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=1000))
    ep.arm()
    assert len(run(ep, "0" * ms(5000))) == 1
    ep.arm()
    assert len(run(ep, "0" * ms(1500))) == 1


def test_disarm_and_disabled_timeout() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=None))
    ep.arm()
    assert run(ep, "0" * ms(30_000)) == []
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=1000))
    ep.arm()
    ep.disarm()
    assert run(ep, "0" * ms(3000)) == []


def test_a_long_answer_ends_after_the_long_silence() -> None:
    ep = Endpointer()
    events = run(ep, "0" * 20 + "1" * ms(1500) + "0" * ms(1500))
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, UtteranceEnded]
    (started_at, started), (ended_at, ended) = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, UtteranceEnded)
    assert started.onset_ms == 400  # first voiced frame
    assert started_at == 20 + ms(220) - 1 and started.at_ms == 400 + 220  # min_speech_ms
    assert ended.reason == "silence" and ended.speech_ms == 1500
    # 1500 ms of speech is not a short answer: the incomplete (long) silence
    assert ended.at_ms == 400 + 1500 + 1000
    assert ended_at == ended.at_ms // FRAME_MS - 1


def test_the_utterance_audio_starts_with_the_preroll() -> None:
    ep = Endpointer(EndpointerConfig(preroll_ms=300))
    events = run(ep, "0" * 50 + "1" * ms(1000) + "0" * ms(1000))
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert frame_index(ended.audio) == 50 - ms(300)
    frames = len(ended.audio) // 320
    assert frame_index(ended.audio, frames - 1) == events[-1][0]
    assert frames == ms(300) + ms(1000) + ms(1000)


def test_preroll_is_cut_at_the_start_of_the_stream() -> None:
    ep = Endpointer(EndpointerConfig(preroll_ms=300))
    events = run(ep, "0" * 3 + "1" * ms(1000) + "0" * ms(1000))
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert frame_index(ended.audio) == 0


def test_a_short_answer_ends_after_the_short_silence() -> None:
    ep = Endpointer()
    events = run(ep, "1" * ms(400) + "0" * ms(2000))
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.at_ms == 400 + SHORT_MS


def test_hints_override_the_heuristic_for_one_utterance() -> None:
    ep = Endpointer()
    run(ep, "1" * ms(1500))
    ep.set_complete_hint(True)
    assert ep.end_silence_ms == COMPLETE_MS
    ended = run(ep, "0" * ms(600), start=ms(1500))[-1][1]
    assert isinstance(ended, UtteranceEnded) and ended.at_ms == 1500 + SHORT_MS

    run(ep, "1" * ms(400), start=1000)
    assert ep.end_silence_ms == COMPLETE_MS  # the hint was reset: short answer again
    ep.set_complete_hint(False)
    ended = run(ep, "0" * ms(1200), start=2000)[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.at_ms - ended.onset_ms == 400 + 1000


def test_short_pauses_inside_speech_do_not_end_it() -> None:
    ep = Endpointer()
    speech = ("1" * ms(300) + "0" * ms(200)) * 8 + "1" * ms(300)
    events = run(ep, speech + "0" * ms(1200))
    assert [type(e) for _, e in events] == [SpeechStarted, UtteranceEnded]


def test_clicks_and_coughs_are_not_speech() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=3000))
    ep.arm()
    click = "1" * 3 + "0" * 40
    cough = "1" * ms(200) + "0" * ms(1200)  # opens an utterance, never confirmed
    events = run(ep, click + cough + "0" * ms(3000))
    assert [type(e) for _, e in events] == [NoInput]


def test_no_input_waits_for_an_open_onset_to_resolve() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=1000))
    ep.arm()
    events = run(ep, "0" * ms(700) + "1" * ms(200) + "0" * ms(1200))
    (index, event), = events
    assert isinstance(event, NoInput)
    assert event.at_ms == 700 + 200 + SHORT_MS  # when the cough was dropped, not during it


def test_confirmed_speech_cancels_no_input() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=1000))
    ep.arm()
    events = run(ep, "0" * ms(500) + "1" * ms(400) + "0" * ms(3000))
    assert [type(e) for _, e in events] == [SpeechStarted, UtteranceEnded]


def test_min_speech_raises_the_confirmation_so_starts_and_ends_pair() -> None:
    ep = Endpointer(EndpointerConfig(barge_in_confirm_ms=20, min_speech_ms=400))
    assert run(ep, "1" * ms(300) + "0" * ms(1500)) == []
    events = run(ep, "1" * ms(500) + "0" * ms(1500), start=200)
    assert [type(e) for _, e in events] == [SpeechStarted, UtteranceEnded]
    started = events[0][1]
    assert isinstance(started, SpeechStarted)
    assert started.at_ms - started.onset_ms == 400


def test_immediate_confirmation_at_onset() -> None:
    ep = Endpointer(EndpointerConfig(barge_in_confirm_ms=20, min_speech_ms=0))
    events = run(ep, "0" * 10 + "1" * ms(200))
    (index, event), = events
    assert isinstance(event, SpeechStarted) and index == 10 + ms(160) - 1  # start_ms opens it


def test_max_length_cuts_and_a_new_onset_follows() -> None:
    cfg = EndpointerConfig(max_utterance_ms=3000, preroll_ms=0)
    ep = Endpointer(cfg)
    events = run(ep, "1" * ms(4000) + "0" * ms(1500))
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, MaxLengthReached, SpeechStarted, UtteranceEnded]
    cut = events[1][1]
    assert isinstance(cut, MaxLengthReached) and isinstance(cut, UtteranceEnded)
    assert cut.reason == "max_length" and len(cut.audio) == ms(3000) * 320
    assert cut.at_ms == 3000
    tail = events[3][1]
    assert isinstance(tail, UtteranceEnded) and tail.onset_ms == 3000


def test_reconfigure_changes_an_open_utterance() -> None:
    ep = Endpointer()
    run(ep, "1" * ms(1500))
    ep.reconfigure(EndpointerConfig(end_silence_ms_incomplete=2000))
    assert run(ep, "0" * ms(1500), start=100) == []
    assert ep.in_utterance and ep.trailing_silence_ms == 1500
    assert len(run(ep, "0" * ms(500), start=200)) == 1


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_timing_is_in_milliseconds_for_any_frame_length(frame_ms: int) -> None:
    ep = Endpointer(EndpointerConfig(preroll_ms=0), frame_ms=frame_ms)
    n = 1200 // frame_ms
    events: list[EndpointEvent] = []
    for i in range(n + 2000 // frame_ms):
        events += ep.push(i < n, b"\0" * 2)
    onsets = [e for e in events if isinstance(e, VoiceOnset)]
    events = [e for e in events if not isinstance(e, VoiceOnset)]
    assert len(onsets) == 1 and abs(onsets[0].at_ms - 100) < frame_ms
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, UtteranceEnded)
    assert abs(started.at_ms - 220) < frame_ms
    assert abs(ended.at_ms - (1200 + 1000)) <= frame_ms


def test_state_readers() -> None:
    ep = Endpointer()
    assert not ep.in_utterance and ep.utterance_audio == b"" and ep.utterance_ms == 0
    run(ep, "1" * ms(200))
    assert ep.in_utterance and not ep.confirmed
    run(ep, "1" * ms(200), start=10)
    assert ep.confirmed and ep.utterance_ms == 400
    assert len(ep.utterance_audio) == ms(400) * 320
    assert ep.now_ms == 400


@pytest.mark.parametrize("bad", [
    {"start_ms": 400, "start_window_ms": 300},
    {"end_silence_ms_complete": 0},
    {"max_utterance_ms": 100},
    {"no_input_timeout_ms": 0},
    {"preroll_ms": -1},
    {"barge_in_confirm_ms": 10},
    {"colour": "red"},
])
def test_invalid_configs_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        EndpointerConfig(**bad)


@pytest.mark.parametrize(("text", "complete"), [
    ("Yes.", True),
    ("I want to talk to an agent.", True),
    ("Is it on Tuesday?", True),
    ("Sorry, can you repeat that?", True),
    ("What is it for?", True),
    ("I think so.", True),
    ("Cancel that.", True),
    ("It is for the.", False),
    ("My name is", False),
    ("My name is.", False),
    ("I would like to", False),
    ("Um.", False),
    ("and", False),
    ("", False),
    ("Wait...", False),
    ("Cancel my appointment", False),
])
def test_looks_complete(text: str, complete: bool) -> None:
    assert looks_complete(text) is complete


def test_arming_during_speech_counts_that_speech_as_the_input() -> None:
    ep = Endpointer(EndpointerConfig(no_input_timeout_ms=1000))
    run(ep, "1" * ms(600))
    ep.arm()  # the prompt ended while the caller was already answering
    events = run(ep, "1" * ms(400) + "0" * ms(3000), start=100)
    assert [type(e) for _, e in events] == [UtteranceEnded]


def test_voice_onset_comes_early_once_and_clicks_do_not_count() -> None:
    ep = Endpointer(EndpointerConfig(barge_in_confirm_ms=100))
    assert run(ep, ("11" + "0" * 20) * 3, onsets=True) == []  # 40 ms clicks
    events = run(ep, "1" * 20 + "0" * 60, start=66, onsets=True)
    kinds = [type(e) for _, e in events]
    assert kinds == [VoiceOnset, SpeechStarted, UtteranceEnded]
    index, onset = events[0]
    assert isinstance(onset, VoiceOnset)
    assert index == 66 + ms(100) - 1 and onset.onset_ms == 66 * FRAME_MS
    short = run(ep, "1" * 8 + "0" * 40, start=146, onsets=True)  # 160 ms: stops a prompt
    assert [type(e) for _, e in short] == [VoiceOnset]
