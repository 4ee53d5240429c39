"""The dialog's contract with the engine: the ports a runner drives, what it is
given about the call (`CallData`) and what it hands back (`DialogOutcome`).

The composition root implements them over the real call (ASR, TTS, SIP
transfer, the store); tests implement them with scripted fakes. Every method
may raise `callcenter.core.errors.CallGone` when the caller hangs up; the
runner then ends quietly. A `RecordStore` may raise `StoreError`; the runner
then hands the caller to a person.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from callcenter.core.call import CallInfo
from callcenter.core.listening import EndpointerConfig
from callcenter.core.speech import UtteranceScores


@dataclass(frozen=True)
class ListenSettings:
    """How to listen for one caller turn.

    :func:`dialog.listening.listen_settings` makes one for each state: the
    state's ``listen`` merged over the flow's, over the node's settings (a
    runner given none starts from these defaults).

    `endpointing`: for the recognizer: the end silences (short for an answer
    that sounds finished, long otherwise), the voice that makes an utterance,
    its maximum length, and the no-input timeout after which `listen`
    returns `CallerInput.no_input()` (None: no timeout).
    `barge_in`: the caller may interrupt the prompt (off for a legal notice).
    `max_digits`: DTMF collection ends after this many keys (or on #).
    `min_confidence`: speech recognized below it counts as not understood.
    """

    endpointing: EndpointerConfig = field(default_factory=EndpointerConfig)
    barge_in: bool = True
    max_digits: int = 1
    min_confidence: float = 0.0


class InputKind(enum.StrEnum):
    """What a caller turn consisted of."""

    SPEECH = "speech"
    DTMF = "dtmf"
    NO_INPUT = "no_input"


@dataclass(frozen=True)
class CallerInput:
    """One caller turn: recognized speech (with confidence), DTMF keys, or silence."""

    kind: InputKind
    text: str = ""
    confidence: float = 1.0
    digits: str = ""
    voice: tuple[UtteranceScores, ...] = ()
    """How the caller sounded: the tone/pace scores of every utterance heard
    since the last input, this one's last (empty when not measured). Speech
    with an empty `text` but scores is voice without recognized words."""

    @classmethod
    def speech(cls, text: str, confidence: float = 1.0,
               voice: Sequence[UtteranceScores] = ()) -> CallerInput:
        """Words the recognizer heard, with its confidence in 0..1."""
        return cls(InputKind.SPEECH, text=text, confidence=confidence, voice=tuple(voice))

    @classmethod
    def dtmf(cls, digits: str) -> CallerInput:
        """Keys pressed (a trailing # is allowed)."""
        return cls(InputKind.DTMF, digits=digits)

    @classmethod
    def no_input(cls) -> CallerInput:
        """Nothing said or pressed within the no-input timeout."""
        return cls(InputKind.NO_INPUT)


class CallerIO(Protocol):
    """The caller's side of the line: speak, listen, hang up."""

    async def say(self, text: str, *, barge_in: bool) -> None:
        """Speak `text`; returns when it is spoken or the caller barged in."""

    async def listen(self, hints: Sequence[str], settings: ListenSettings) -> CallerInput:
        """Wait for one caller turn; `hints` are words the caller is likely to say."""

    async def hangup(self) -> None:
        """End the call from our side."""


class RecordStore(Protocol):
    """Business records the flow reads and updates (appointments, accounts, ...)."""

    async def lookup(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record of `kind` under `key`, or None if there is none."""

    async def update(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        """Change `fields` of the record of `kind` under `key`."""


TransferReason = Literal["tone", "pace", "words", "asked", "dtmf", "no_match", "no_input",
                         "flow", "error"]
"""Why a caller is handed to a person: upset (tone, pace, words), at their
request (asked by voice, dtmf by key: the global agent intent, or a menu
choice that transfers), after repeated failures (no_match, no_input), a
flow's own transfer before the caller said anything (flow), or because the
engine failed (error: a store fault, a flow that never ends)."""


@dataclass(frozen=True)
class Handover:
    """Why the dialog hands the caller over, and what it knows so far: for the
    call's events and the agent's whisper and offer.

    `scores`: what triggered it (for tone/pace/words: the scores, their
    utterances, the call's trend); `intent`: what the caller last asked for
    (a menu choice such as "reschedule"), None if nothing yet; `variables`:
    the flow's variables (records found, slots filled).
    """

    reason: TransferReason
    state: str
    intent: str | None = None
    scores: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferTarget:
    """Where to hand a caller: a named human queue and/or a SIP URI (the
    queue's fallback, or the only target). `escalated`: the dialog hands the
    caller over on its own initiative (upset, or after failures), not at
    their request (they may go ahead in the queue); `priority_boost`: how
    far ahead (None: the queue's own boost for escalated callers); `why`:
    the reason and context."""

    queue: str | None = None
    uri: str | None = None
    # About the caller, not the place: two targets are the same place whatever it says.
    escalated: bool = field(default=False, compare=False)
    priority_boost: int | None = field(default=None, compare=False)
    why: Handover | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.queue or self.uri or "?"


class TransferResult(enum.StrEnum):
    """How a transfer went, when yes or no is not enough."""

    DONE = "done"  # handed over: the flow ends (same as True)
    FAILED = "failed"  # nobody took the call; the caller is still here (same as False)
    RETURNED = "returned"  # a person talked to the caller and gave them back to the flow


class Transferrer(Protocol):
    """Hands the call to a person."""

    async def transfer(self, target: TransferTarget) -> bool | TransferResult:
        """Transfer the caller: True (or DONE) when handed over; False (or
        FAILED) if nobody could take the call (the caller is still on the
        line and the flow says so); RETURNED when an agent gave the caller
        back to the flow (the transfer's ``on_return`` state)."""


class Speaker(enum.StrEnum):
    ENGINE = "engine"
    CALLER = "caller"


@dataclass(frozen=True)
class Turn:
    """One turn of the conversation, for transcripts and analytics.

    For the caller: `text` is the words or keys, `intent` what they were
    taken to mean ("no_input", "no_match", a slot name, an intent name).
    """

    speaker: Speaker
    state: str
    text: str
    started_at: datetime
    ended_at: datetime
    kind: InputKind | None = None
    intent: str | None = None
    confidence: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallData:
    """What the engine knows about the call before the flow starts."""

    caller_number: str = ""
    called_number: str = ""
    call_id: str = ""
    contact: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_call(cls, info: CallInfo, contact: Mapping[str, Any] | None = None) -> CallData:
        """From the SIP layer's `CallInfo`: numbers are the user parts of the URIs
        ('"Maria" <sip:+15551230001@trunk;user=phone>' gives "+15551230001")."""
        return cls(caller_number=user_part(info.from_uri), called_number=user_part(info.to_uri),
                   call_id=info.call_id, contact=dict(contact or {}))


_USER = re.compile(r"(?:sips?|tel):([^@;>?]+)", re.IGNORECASE)


def user_part(uri: str) -> str:
    """The user (number) of a SIP or tel URI, or the text itself if it is not one."""
    found = _USER.search(uri)
    return found.group(1) if found else uri.strip()


class Ending(enum.StrEnum):
    """How a run ended."""

    COMPLETED = "completed"  # the flow said goodbye and hung up
    TRANSFERRED = "transferred"  # handed to a person
    TRANSFER_FAILED = "transfer_failed"  # nobody could take the call; we hung up
    CALLER_HUNG_UP = "caller_hung_up"


@dataclass(frozen=True)
class DialogOutcome:
    """The end of a run: how, in which state, to whom, and the final variables."""

    ending: Ending
    state: str
    variables: Mapping[str, Any]
    target: TransferTarget | None = None
    escalated: bool = False  # handed over after failures or a store error, not by request
