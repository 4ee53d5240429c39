"""Conversations with the clinic flow over real calls: reschedule, reach a person,
reprompts and escalation, keys only, another voice, a greeting that can't be cut.

One engine serves the whole module. Each test is one call from its own number
with its own appointment record, so the calls of the selected tests all start
as soon as the first test needs its result and run side by side, at most four
at a time (the node's capacity), longest first; a test then waits for its own
call. The file takes about as long as two calls in a row, not all of them.

The caller is the built-in test caller (piper speaks, or an espeak-ng WAV),
run with a spy that notes the REFERs it is sent. The engine's clinic flow
falls back to a REFER to FRONT_DESK_URI (the shipped one has no such URI);
the caller declines it (603), so a transfer to the front desk fails and the
flow's "unavailable" message plays.
"""

from __future__ import annotations

import sys
import time
import wave
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from config import CONFIG_DIR
from tests.support.audio import read_wav
from tests.support.clinic import (
    CLINIC_TZ,
    FRONT_DESK_URI,
    CallPlan,
    ClinicCalls,
    Conversation,
    appointment,
    clinic_engine,
    clinic_today,
)

pytestmark = pytest.mark.e2e

FLOW = yaml.safe_load((CONFIG_DIR / "flows" / "clinic.yaml").read_text())
GREETING = FLOW["states"]["greet"]["say"]
MENU_REPROMPT = FLOW["states"]["main_menu"]["reprompt"]
ESCALATION = FLOW["escalation"]
TUESDAY = 1
# The test caller takes 1.2 s of quiet for the end of a prompt; under load the
# engine may pause that long between two sentences of one prompt. Answering
# early is fine (the menus allow barge-in), but a caller hanging up early would
# miss the end, so calls the engine ends finish with spare waits (skipped once
# the engine has hung up).
WAIT: dict[str, Any] = {"wait_prompt": True}
TO_THE_END = [WAIT, WAIT, WAIT]
KEYS_DAYS_AHEAD = 10  # the day typed in the keys-only reschedule
HOLD_S = 10.0  # longer than the menu's no-input time (8 s)


def _say(text: str) -> dict[str, Any]:
    return {"say": text}


def _keys(digits: str) -> dict[str, Any]:
    return {"dtmf": digits}


def _espeak(voice: str, text: str) -> dict[str, Any]:
    return {"espeak": [voice, text]}


def _plans() -> dict[str, CallPlan]:
    """Every call of the module, longest first (the order they start in)."""
    typed_day = clinic_today() + timedelta(days=KEYS_DAYS_AHEAD)
    return {
        "unrelated_three_times": CallPlan("+15559870101", [
            WAIT, _say("The weather is lovely today"),
            WAIT, _say("My cat likes to sleep on the sofa"),
            WAIT, _say("I had pizza for lunch"), *TO_THE_END],
            record=appointment("Olivia", days=4)),
        "reschedule_by_voice": CallPlan("+15559870102", [
            WAIT, _say("I'd like to reschedule my appointment"),
            WAIT, _say("next Tuesday"),
            WAIT, _say("two thirty pm"),
            WAIT, _say("yes"), *TO_THE_END], record=appointment("Noah", days=2)),
        "reschedule_by_keys": CallPlan("+15559870103", [
            WAIT, _keys("3"), WAIT, _keys(f"{typed_day:%m%d}"), WAIT, _keys("1045"),
            WAIT, _keys("1"), *TO_THE_END], record=appointment("Emma", days=3, at="16:00")),
        "cancel_in_espeak_voice": CallPlan("+15559870104", [
            WAIT, _espeak("en-us+f3", "I want to cancel my appointment"),
            WAIT, _espeak("en-us+f3", "yes"), *TO_THE_END], record=appointment("Ava", days=6)),
        # Three waits for greeting and menu, then the reprompt, with one to spare.
        "silent_after_menu": CallPlan("+15559870105", [WAIT, WAIT, WAIT, {"hangup": True}],
                                      record=appointment("Liam", days=5)),
        "representative_by_voice": CallPlan("+15559870106", [
            WAIT, _say("I want to speak to a representative"), *TO_THE_END],
            record=appointment("Mia", days=2)),
        "front_desk_by_key": CallPlan("+15559870107", [WAIT, _keys("0"), *TO_THE_END],
                                      record=appointment("Lucas", days=1)),
        # Talks over the greeting (no barge-in), then over the menu (barge-in).
        "talks_over_greeting": CallPlan("+15559870108", [
            {"wait": 0.2}, _espeak("en-us", "Cancel my appointment."), {"wait": 6.0},
            _espeak("en-us", "I would like to reschedule."), WAIT, {"hangup": True}],
            record=appointment("Ella", days=7)),
        # Puts the engine on hold during the menu, longer than its no-input time.
        "holds_during_menu": CallPlan("+15559870110", [
            {"wait": 7.0}, {"hold": HOLD_S}, WAIT, _say("I'd like to confirm"), *TO_THE_END],
            record=appointment("Sofia", days=5)),
        # Hangs up two seconds into the greeting.
        "hangs_up_during_greeting": CallPlan("+15559870109", [{"wait": 2.0}, {"hangup": True}]),
    }


def uses(plan: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test with the call (a key of `_plans`) it asserts on."""
    def mark(test: Callable[..., None]) -> Callable[..., None]:
        test.clinic_call = plan  # type: ignore[attr-defined]
        return test
    return mark


@pytest.fixture(scope="module")
def calls(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClinicCalls]:
    """The engine, with the calls of this module's selected tests under way."""
    folder = tmp_path_factory.mktemp("clinic-conversations")
    engine = clinic_engine(folder / "engine", max_call_s=150, refer_to=FRONT_DESK_URI)
    runner = ClinicCalls(engine, folder / "calls", workers=4)
    module = sys.modules[__name__]
    wanted = {getattr(getattr(item, "function", None), "clinic_call", None)
              for item in request.session.items if getattr(item, "module", None) is module}
    try:
        for name, plan in _plans().items():
            if name in wanted:
                runner.start(name, plan)
        yield runner
    finally:
        runner.close()
        engine.stop()


@pytest.fixture
def talk(request: pytest.FixtureRequest, calls: ClinicCalls) -> Conversation:
    """The finished call of this test (see `uses`)."""
    return calls.result(request.function.clinic_call)


def _first_tuesday_after(day: date) -> date:
    return day + timedelta(days=(TUESDAY - day.weekday() - 1) % 7 + 1)


def _voiced(wav_path: Path) -> tuple[float, float]:
    """First and last second of voice in a WAV (20 ms frames above a quiet level)."""
    with wave.open(str(wav_path), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    frames = samples[: len(samples) // (rate // 50) * (rate // 50)].reshape(-1, rate // 50)
    loud = np.nonzero(np.sqrt((frames.astype(float) ** 2).mean(axis=1)) > 300)[0]
    return loud[0] / 50, (loud[-1] + 1) / 50


def _intents(talk: Conversation) -> list[str | None]:
    return [t.intent for t in talk.caller_turns()]


def _assert_front_desk_was_tried(talk: Conversation, before: str) -> None:
    """The engine said `before`, sent the caller a REFER to the front desk,
    and, the REFER declined, said it is unavailable and hung up."""
    why = talk.describe()
    assert talk.refers == [FRONT_DESK_URI], why
    assert talk.engine_said()[-2:] == [before, ESCALATION["unavailable"]], why
    assert talk.flow_ending() == "transfer_failed", why
    assert talk.call.end_reason == "engine_hangup", why
    assert "opening hours" in talk.heard, why  # the caller heard the unavailable message


# --- reschedule ---------------------------------------------------------------------

@uses("reschedule_by_voice")
def test_reschedule_to_a_spoken_day_and_time(talk: Conversation) -> None:
    why = talk.describe()
    assert _intents(talk) == ["reschedule", "new_date", "new_time", "reschedule_ok"], why
    said_day = next(t for t in talk.caller_turns() if t.state == "ask_day")
    expected = _first_tuesday_after(said_day.started_at.astimezone(CLINIC_TZ).date())

    assert talk.record is not None
    assert {k: talk.record[k] for k in ("date", "time", "status")} == {
        "date": expected.isoformat(), "time": "14:30", "status": "rescheduled"}, why
    assert talk.record["patient_name"] == "Noah"
    booked = talk.engine_turns("rescheduled")[-1].text
    assert f"{expected:%B}" in booked, why


@uses("reschedule_by_keys")
def test_reschedule_with_keys_only(talk: Conversation) -> None:
    why = talk.describe()
    typed = talk.caller_turns()
    assert [t.intent for t in typed] == ["reschedule", "new_date", "new_time",
                                         "reschedule_ok"], why
    assert {t.data.get("kind") for t in typed} == {"dtmf"}, why
    day = talk.call.started_at.astimezone(CLINIC_TZ).date() + timedelta(days=KEYS_DAYS_AHEAD)
    # the plan typed its day before the call started; around midnight it is the day before
    days = {day.isoformat(), (day - timedelta(days=1)).isoformat()}

    assert talk.record is not None
    assert talk.record["date"] in days and talk.record["time"] == "10:45", why
    assert talk.record["status"] == "rescheduled", why
    assert "ten forty five AM" in talk.engine_turns("rescheduled")[-1].text, why


# --- reaching a person ------------------------------------------------------------------

@uses("representative_by_voice")
def test_ask_for_a_representative_tries_the_front_desk(talk: Conversation) -> None:
    why = talk.describe()
    [asked] = talk.caller_turns()
    assert (asked.state, asked.intent, asked.data.get("kind")) == (
        "main_menu", "agent", "speech"), why
    assert "representative" in asked.text.lower(), why
    _assert_front_desk_was_tried(talk, ESCALATION["agent_say"])
    assert talk.record is not None and talk.record["status"] == "booked"


@uses("front_desk_by_key")
def test_key_zero_tries_the_front_desk(talk: Conversation) -> None:
    why = talk.describe()
    [pressed] = talk.caller_turns()
    assert (pressed.state, pressed.intent, pressed.text, pressed.data.get("kind")) == (
        "main_menu", "agent", "0", "dtmf"), why
    _assert_front_desk_was_tried(talk, ESCALATION["agent_say"])


@uses("representative_by_voice")
def test_transfer_attempt_is_a_call_event(talk: Conversation) -> None:
    assert talk.refers == [FRONT_DESK_URI]  # the REFER went out ...
    transfers = [e for e in talk.events if e.kind == "transfer"]
    assert len(transfers) == 1, [e.kind for e in talk.events]  # ... and the call says so
    assert transfers[0].data["target"] == FRONT_DESK_URI


# --- reprompts and escalation --------------------------------------------------------

@uses("silent_after_menu")
def test_silence_after_the_menu_is_reprompted(talk: Conversation) -> None:
    why = talk.describe()
    assert talk.said == [], why
    silence = talk.caller_turns()[0]
    assert (silence.state, silence.intent, silence.text) == ("main_menu", "no_input", ""), why
    menu, reprompt = talk.engine_turns("main_menu")[:2]
    assert menu.text.startswith("Hello Liam."), why
    assert reprompt.text == MENU_REPROMPT["no_input"], why
    assert "still there" in talk.heard, why
    assert talk.refers == [], why


@uses("unrelated_three_times")
def test_three_unrelated_answers_escalate_to_the_front_desk(talk: Conversation) -> None:
    why = talk.describe()
    assert [(t.state, t.intent) for t in talk.caller_turns()] == [
        ("main_menu", "no_match")] * 3, why
    spoken = [t.text for t in talk.engine_turns("main_menu")]
    assert spoken[1:3] == [MENU_REPROMPT["no_match"]] * 2, why
    assert "didn't get that" in talk.heard and "trouble understanding" in talk.heard, why
    _assert_front_desk_was_tried(talk, ESCALATION["say"])
    assert talk.record is not None and talk.record["status"] == "booked"


# --- a held call ---------------------------------------------------------------------------

@uses("holds_during_menu")
def test_a_held_call_pauses_the_flow_and_the_menu_plays_again_after(
        talk: Conversation) -> None:
    why = talk.describe()
    kinds = [e.kind for e in talk.events]
    assert "hold" in kinds and "unhold" in kinds, (kinds, why)
    held_at = next(e.at for e in talk.events if e.kind == "hold")
    back_at = next(e.at for e in talk.events if e.kind == "unhold")
    assert (back_at - held_at).total_seconds() >= HOLD_S - 1, why
    # Nothing said into the held call, no "are you still there?" ...
    assert not [t for t in talk.engine_turns() if held_at < t.started_at < back_at], why
    assert "still there" not in talk.heard, why
    assert [(t.state, t.intent) for t in talk.caller_turns()] == [("main_menu", "confirm")], why
    # ... and the menu that the hold stopped was heard again, from its start.
    [menu] = talk.engine_turns("main_menu")
    assert menu.text.startswith("Hello Sofia.") and menu.ended_at > back_at, why
    said_at = {t["text"]: t["at"] for t in talk.said}
    hold_s, unhold_s = said_at[f"[hold {HOLD_S} s]"], said_at["[unhold]"]
    heard = [t for t in talk.outcome["conversation"] if t["speaker"] == "engine"]
    assert not [t for t in heard if hold_s + 1.0 < t["at"] < unhold_s], why
    assert any(unhold_s <= t["at"] < said_at["I'd like to confirm"]
               and "your appointment" in t["text"].lower() for t in heard), why
    assert talk.record is not None and talk.record["status"] == "confirmed", why


# --- another speaker ----------------------------------------------------------------------

@uses("cancel_in_espeak_voice")
def test_cancel_spoken_by_an_espeak_voice(talk: Conversation) -> None:
    why = talk.describe()
    assert [t["text"].endswith(".wav") for t in talk.said] == [True, True], why
    assert _intents(talk) == ["cancel", "cancel_ok"], why
    assert "cancel" in talk.caller_turns()[0].text.lower(), why
    assert talk.record is not None and talk.record["status"] == "cancelled", why
    assert "has been cancel" in talk.heard, why


# --- barge-in off ---------------------------------------------------------------------------

@uses("talks_over_greeting")
def test_speech_during_the_greeting_neither_cuts_it_nor_answers(talk: Conversation) -> None:
    why = talk.describe()
    greet = talk.engine_turns("greet")
    assert [t.text for t in greet] == [GREETING], why
    played = (greet[0].ended_at - greet[0].started_at).total_seconds()
    spoke = talk.said[0]
    starts, ends = _voiced(Path(spoke["text"]))
    # the caller's "cancel" began at least a second before the greeting's end
    # and was over before it
    assert spoke["at"] + starts < played - 1.0 and spoke["at"] + ends < played, (
        spoke, starts, ends, played, why)
    # ~3.5 s of speech; cut by a barge-in (0.3 s of voice) it would have ended near 1 s
    assert played > 3.0, why
    assert "may be recorded" in talk.heard, why
    # The caller's next words, over the menu (which allows barge-in), did cut
    # it: the only barge-in of the call, and the menu's answer, not "cancel".
    [menu] = talk.engine_turns("main_menu")
    assert (menu.ended_at - menu.started_at).total_seconds() < 10.0, why
    # The transcript keeps what was played of the menu, and where it was cut.
    assert "cut" not in greet[0].data, why
    assert menu.data["cut"] == "barge_in", why
    full = menu.data["full_text"].split()
    played = menu.text.split()
    assert len(played) < len(full) and played == full[:len(played)], why
    assert 0 < menu.data["played_s"] < (menu.ended_at - menu.started_at).total_seconds(), why
    assert len([line for line in talk.log if "barge-in" in line]) == 1, why
    answer = talk.caller_turns()[0]
    assert (answer.state, answer.intent) == ("main_menu", "reschedule"), why
    assert not talk.engine_turns("confirm_cancel"), why
    assert talk.record is not None and talk.record["status"] == "booked"


# --- a prompt cut by a hang-up ------------------------------------------------------------

@uses("hangs_up_during_greeting")
def test_a_prompt_the_caller_hangs_up_during_is_kept_as_far_as_it_played(
        talk: Conversation, calls: ClinicCalls) -> None:
    # The dialog ends before the cut prompt's turn is written: wait for it.
    deadline = time.monotonic() + 10
    turns = talk.turns
    while not any(t.speaker == "engine" for t in turns) and time.monotonic() < deadline:
        time.sleep(0.2)
        store = calls.engine.store()
        try:
            turns = list(store.turns_for(talk.call.id))
        finally:
            store.close()
    why = talk.describe()
    [greet] = [t for t in turns if t.speaker == "engine"]
    assert greet.state == "greet", why
    assert greet.data["cut"] == "hangup" and greet.data["full_text"] == GREETING, why
    assert 0 <= greet.data["played_s"] < 3.0, why
    played, full = greet.text.split(), GREETING.split()
    assert len(played) < len(full) and played == full[:len(played)], why


def _loud_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """Per 20 ms frame: louder than a quiet level (RMS 300, -41 dBFS)?"""
    size = rate // 50
    frames = samples[: len(samples) // size * size].reshape(-1, size).astype(float)
    return np.asarray(np.sqrt((frames**2).mean(axis=1)) > 300)


@uses("talks_over_greeting")
def test_barge_in_silences_the_engine_within_200_ms_on_the_recording(
        talk: Conversation) -> None:
    why = talk.describe()
    assert talk.call.recording_path, why
    samples, rate = read_wav(Path(talk.call.recording_path))
    caller, engine = _loud_frames(samples[:, 0], rate), _loud_frames(samples[:, 1], rate)
    # The caller's bursts of speech: the first over the greeting, the second
    # (after 6 s of quiet) over the menu.
    onsets = [i for i in range(len(caller))
              if caller[i] and not caller[max(0, i - 50):i].any()]
    assert len(onsets) >= 2, (onsets, why)
    greeting_onset, menu_onset = onsets[0], onsets[1]
    # Barge-in off: the greeting went on over the caller for over a second.
    assert engine[greeting_onset:greeting_onset + 50].sum() > 25, why
    # Barge-in on: the menu was playing when the caller spoke (the onset may
    # fall in the short pause between two of its sentences) ...
    assert engine[menu_onset - 30:menu_onset].sum() >= 5, why
    # ... and the engine's channel fell silent (for 300 ms and more) within 200 ms.
    quiet_from = next(i for i in range(menu_onset, len(engine))
                      if not engine[i:i + 15].any())
    reaction_ms = (quiet_from - menu_onset) * 20
    assert reaction_ms <= 200, (reaction_ms, why)


def test_plans_use_distinct_numbers() -> None:
    numbers = [plan.number for plan in _plans().values()]
    assert len(set(numbers)) == len(numbers)
    assert not set(numbers) & {"+15551230001", "+15551230002", "1000", "100"}  # the seed's
