"""The flow model: what a YAML file in config/flows/ may say (checked by pydantic).

A flow is a set of named states. Entering a state runs its `do` actions, then
speaks its `say` prompt, then either listens (a `menu` of intents or an `ask`
for a slot) or moves on at once (`goto`, or the first matching `branch`).
`flow_loader` adds the checks that span states (targets exist, every state is
reachable, templates name known variables, ...). See config/flows/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from callcenter.core.yaml_lines import LineMap
from dialog.escalation_policy import EscalationConfig
from dialog.slots import SlotType

Scalar = str | int | float | bool | None

# Variables every call has before the flow starts (see `DialogRunner`).
BUILTIN_VARIABLES = frozenset({"caller_number", "called_number", "call_id", "contact",
                               "today", "now"})
# Variables whose attributes are not known until the call: {contact.first_name}.
OPEN_VARIABLES = frozenset({"contact"})


def _key_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


DtmfKey = Annotated[str, BeforeValidator(_key_text), Field(pattern=r"^[0-9*#]$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenSpec(_Model):
    """Listening settings; a state's override the flow's, which override the engine's."""

    barge_in: bool | None = None
    end_silence_ms: int | None = Field(None, ge=100, le=10_000)
    end_silence_complete_ms: int | None = Field(None, ge=100, le=10_000)
    min_speech_ms: int | None = Field(None, ge=0, le=2_000)
    max_utterance_ms: int | None = Field(None, ge=1000, le=120_000)
    no_input_ms: int | None = Field(None, ge=500, le=60_000)
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)


class LookupAction(_Model):
    """Read the record of `record` kind under `key` into variable `into`
    (default: the kind's name); the variable is null when there is none."""

    record: Name
    key: str
    into: Name | None = None


class UpdateAction(_Model):
    """Write `fields` to the record of `record` kind under `key`; the
    variable `into` (default: the kind's name), if it holds the record, follows."""

    record: Name
    key: str
    fields: dict[str, Scalar]
    into: Name | None = None


class TransferAction(_Model):
    """Hand the caller to a `queue` (declared under `queues`) or a SIP `uri`.

    `on_fail`: the state to go to when nobody takes the call; `on_return`:
    the state to go on at when an agent gives the caller back to the flow
    (a queue with ``after_agent: flow``); without it that call ends.
    """

    queue: str | None = None
    uri: str | None = None
    say: str | None = None
    on_fail: str | None = None
    on_return: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransferAction:
        if (self.queue is None) == (self.uri is None):
            raise ValueError("give either a queue or a uri")
        return self


class HangupAction(_Model):
    """Say goodbye and hang up."""

    say: str = Field(min_length=1)


def _transfer_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"uri": value} if value.startswith(("sip:", "sips:", "tel:")) else {"queue": value}
    return value


def _hangup_shorthand(value: Any) -> Any:
    return {"say": value} if isinstance(value, str) else value


class Action(_Model):
    """Exactly one of: set, lookup, update, say, transfer, hangup."""

    set: dict[Name, Scalar] | None = None
    lookup: LookupAction | None = None
    update: UpdateAction | None = None
    say: str | None = None
    transfer: Annotated[TransferAction | None, BeforeValidator(_transfer_shorthand)] = None
    hangup: Annotated[HangupAction | None, BeforeValidator(_hangup_shorthand)] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "an action is exactly one of: set, lookup, update, say, transfer, hangup"
                + (f" (got {', '.join(given)})" if given else ""))
        return self

    @property
    def kind(self) -> str:
        """The action's name: set, lookup, update, say, transfer or hangup."""
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)

    @property
    def ends_call(self) -> bool:
        """True for transfer and hangup: nothing after them runs."""
        return self.transfer is not None or self.hangup is not None


class IntentSpec(_Model):
    """One choice of a menu: its words, its key, what it does and where it goes."""

    dtmf: DtmfKey | None = None
    keywords: list[str] = []
    phrases: list[str] = []
    do: list[Action] = []
    goto: str | None = None


class AskSpec(_Model):
    """Ask the caller for one slot value, stored in variable `slot`."""

    slot: Name
    type: SlotType
    yes: str | None = None  # yes_no: state after yes
    no: str | None = None  # yes_no: state after no
    min_length: int | None = Field(None, ge=1)  # digits
    max_length: int | None = Field(None, ge=1)  # digits
    min: int | None = None  # number
    max: int | None = None  # number
    future: bool = False  # date: must be after today
    with_time: Name | None = None  # date: variable for a time said along with the date
    invalid: str | None = None  # said when the value is understood but not allowed


class Branch(_Model):
    """Go to `goto` when variable `when` is truthy (or equals `equals`); no
    `when` makes it the fallback, which must come last."""

    when: str | None = None
    equals: Scalar = None
    goto: str


class Reprompts(_Model):
    """What to say after silence or words that were not understood."""

    no_input: str | None = None
    no_match: str | None = None


class StateSpec(_Model):
    """One state of the flow."""

    say: str | None = None
    listen: ListenSpec = ListenSpec()
    do: list[Action] = []
    menu: dict[Name, IntentSpec] | None = None
    ask: AskSpec | None = None
    goto: str | None = None
    branch: list[Branch] | None = None
    reprompt: Reprompts = Reprompts()
    max_failures: int | None = Field(None, ge=1, le=10)

    @property
    def listens(self) -> bool:
        """True when the state waits for the caller (a menu or an ask)."""
        return self.menu is not None or self.ask is not None


class RecordSpec(_Model):
    """A kind of record the flow reads and updates, with the fields it uses."""

    fields: list[Name] = Field(min_length=1)


class QueueSpec(_Model):
    """A human queue of the engine, by name; `uri` is where to send callers
    when the engine has no such queue or it cannot take them (nobody logged
    in, full)."""

    uri: str | None = None


class UpsetSpec(EscalationConfig):
    """Live escalation of a caller who sounds upset (tone, pace) or says so
    (words): the policy's thresholds (:class:`dialog.escalation_policy.
    EscalationConfig`) and where it applies and sends the caller.

    `states`: where it applies (None: every state that listens); `queue`:
    None for the escalation's; `priority_boost`: added to the queue's
    priority (None: the queue's own ``escalation_boost``); `say`: said
    before the transfer.
    """

    states: list[Name] | None = None
    queue: str | None = None
    priority_boost: int | None = Field(None, ge=0, le=1000)
    say: str = "I'm sorry about this. Let me get you a person right away."


class EscalationSpec(_Model):
    """How a caller reaches a person: by asking, after repeated failure, or
    (with `upset`) as soon as they sound upset."""

    queue: str
    after_failures: int = Field(3, ge=1, le=10)
    say: str = "Sorry, I'm having trouble. Let me get you someone who can help."
    agent_say: str = "Sure, connecting you to someone now."
    unavailable: str = "Sorry, nobody is available right now. Please call again later. Goodbye."
    # Where the flow goes on when an agent gives an escalated caller back; None = hang up.
    on_return: str | None = None
    # Tone, pace and words: None (no block) = no live escalation.
    upset: UpsetSpec | None = None

    def upset_in(self, state: str, listens: bool) -> UpsetSpec | None:
        """The live escalation that applies in `state`, or None."""
        upset = self.upset
        if upset is None or not upset.enabled or not listens:
            return None
        return upset if upset.states is None or state in upset.states else None


class FlowSpec(_Model):
    """A whole flow file."""

    flow: Name
    description: str = ""
    timezone: str = "UTC"
    start: str
    listen: ListenSpec = ListenSpec()
    reprompt: Reprompts = Reprompts(no_input="Sorry, I didn't hear anything.",
                                    no_match="Sorry, I didn't understand.")
    variables: dict[Name, Scalar] = {}
    records: dict[Name, RecordSpec] = {}
    queues: dict[str, QueueSpec] = {}
    escalation: EscalationSpec
    states: dict[Name, StateSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Flow:
    """A flow loaded and checked by `flow_loader`: the spec, where it came from, its zone."""

    spec: FlowSpec = field(repr=False)
    path: Path
    tz: ZoneInfo
    lines: LineMap = field(repr=False)

    @property
    def name(self) -> str:
        """The flow's name (its `flow:` key)."""
        return self.spec.flow

    def where(self, *path: str | int) -> str:
        """ "file:line" of a place in the flow, for runtime diagnostics."""
        return f"{self.path}:{self.lines.line_of(path)}"
