"""How to listen in a state: its settings, and the words to bias recognition toward.

    listen_settings(flow.spec, state)   -> ListenSettings(barge_in=..., max_digits=1, ...)
    recognition_hints(state)            -> ("confirm", "cancel", ..., "agent", ...)

Settings merge here and only here: the state's `listen` over the flow's, over
the node's (its ``asr.endpointing``, a
:class:`callcenter.core.listening.EndpointerConfig`, where each endpointing
default is defined). A key a `listen` leaves out, or sets to null, keeps the
value from below, so a node's null (no no-input timeout) stays null. The
number of DTMF keys to collect follows from what the state asks for. Hints
are the state's keywords and phrases, the words of its slot type, and the
words that always reach a person.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from callcenter.core.listening import EndpointerConfig
from dialog.datetimes import MONTHS, WEEKDAYS
from dialog.flow import FlowSpec, ListenSpec, StateSpec
from dialog.intents import GLOBAL_INTENTS
from dialog.numbers import TEENS, TENS, UNITS
from dialog.ports import ListenSettings
from dialog.slots import SlotType

_DIGITS = (*UNITS, "oh")
_SLOT_HINTS: dict[SlotType, tuple[str, ...]] = {
    SlotType.YES_NO: ("yes", "no", "yeah", "nope", "that's right", "correct"),
    SlotType.DIGITS: (*_DIGITS, "double", "triple"),
    SlotType.NUMBER: (*UNITS, *TEENS, *TENS, "hundred", "thousand"),
    SlotType.DATE: (*(d.title() for d in WEEKDAYS), *(m.title() for m in MONTHS), "today",
                    "tomorrow", "next", "this", "week"),
    SlotType.TIME: ("a.m.", "p.m.", "noon", "o'clock", "half past", "quarter", "morning",
                    "afternoon"),
    SlotType.TEXT: (),
}
_SAID_IN_PIECES = (SlotType.DIGITS, SlotType.TEXT)
_MAX_DIGITS = {SlotType.YES_NO: 1, SlotType.NUMBER: 9, SlotType.DATE: 4, SlotType.TIME: 4,
               SlotType.TEXT: 1}


# A `listen` key of a flow or state, and the endpointing setting it sets.
_ENDPOINTING = {
    "end_silence_ms": "end_silence_ms_incomplete",
    "end_silence_complete_ms": "end_silence_ms_complete",
    "min_speech_ms": "min_speech_ms",
    "max_utterance_ms": "max_utterance_ms",
    "no_input_ms": "no_input_timeout_ms",
}
_DIALOG = ("barge_in", "min_confidence")


def _given(spec: ListenSpec) -> dict[str, Any]:
    return {name: value for name, value in spec if value is not None}


def listen_settings(flow: FlowSpec, state: StateSpec,
                    defaults: ListenSettings | None = None) -> ListenSettings:
    """The settings for listening (and for speaking the prompt) in `state`,
    over `defaults`, the node's (default: :class:`ListenSettings`' own)."""
    base = defaults or ListenSettings()
    node = base.endpointing
    given = {**_given(flow.listen), **_given(state.listen)}
    max_digits = 1
    if state.ask is not None:
        kind = state.ask.type
        max_digits = (state.ask.max_length or 20) if kind is SlotType.DIGITS else _MAX_DIGITS[kind]
        # Digit strings are read in groups ("four five one ... two seven
        # eight") and free text comes with pauses for thought; every piece
        # already sounds like a finished answer, so only the long silence
        # ends one, unless the state itself says otherwise (a flow-wide
        # short silence does not apply here).
        if kind in _SAID_IN_PIECES and state.listen.end_silence_complete_ms is None:
            given["end_silence_complete_ms"] = given.get("end_silence_ms",
                                                         node.end_silence_ms_incomplete)
    endpointing = node.model_dump()
    endpointing.update({_ENDPOINTING[k]: v for k, v in given.items() if k in _ENDPOINTING})
    # A state may set either silence; the short one never exceeds the long one.
    short, long = sorted((endpointing["end_silence_ms_complete"],
                          endpointing["end_silence_ms_incomplete"]))
    endpointing.update(end_silence_ms_complete=short, end_silence_ms_incomplete=long)
    return replace(base, endpointing=EndpointerConfig(**endpointing), max_digits=max_digits,
                   **{k: v for k, v in given.items() if k in _DIALOG})


def recognition_hints(state: StateSpec) -> tuple[str, ...]:
    """Words and phrases the caller is likely to say in `state`, most specific first."""
    hints: list[str] = []
    for choice in (state.menu or {}).values():
        hints.extend(choice.keywords)
        hints.extend(choice.phrases)
    if state.ask is not None:
        hints.extend(_SLOT_HINTS[state.ask.type])
    for intent in GLOBAL_INTENTS:
        hints.extend(intent.keywords)
    return tuple(dict.fromkeys(hints))
