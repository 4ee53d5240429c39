"""The queues file (``config/queues.yaml``): where callers wait, and for whom.

    queues, warnings = load_queues(Path("config/queues.yaml"), agents)
    queues.queues["front-desk"].strategy         # Strategy.LONGEST_IDLE

Queues are keyed by name (the name dialog flows transfer to), so names are
unique by construction. Besides each value's type and range, checked
against the agents: a required skill that no agent has is an error (a typo,
or a queue nobody could ever serve); a queue for which no single agent has
every required skill at its level is a warning, a staffing matter.
``hold_audio`` and a voicemail ``dir`` are relative to the queues file; the
hold audio must exist.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from acd.agents_config import AgentsConfig
from acd.config_problems import (
    AcdConfigError,
    ConfigProblem,
    problem_at,
    read_yaml,
    validation_problems,
)
from acd.config_types import ConfigModel, DtmfKey, QueueName, Skills, TransferUri
from callcenter.core.yaml_lines import LineMap


class Strategy(StrEnum):
    """How a queue picks among the agents who could take its next caller."""

    LONGEST_IDLE = "longest_idle"  # ready for the longest time
    BEST_SKILL = "best_skill"  # highest levels in the required skills, then longest idle
    ROUND_ROBIN = "round_robin"  # the next agent after the last one offered, in file order


class AfterAgent(StrEnum):
    """Where a caller goes when the agent ends the call first."""

    HANGUP = "hangup"  # the call ends
    FLOW = "flow"  # back to the dialog flow (the state its transfer names to return to)


class _LimitAction(ConfigModel):
    # What the caller hears first; None = the engine's default prompt for the action.
    say: str | None = None


class CallbackAtLimit(_LimitAction):
    """Offer a callback: a key within `timeout_s` stores it; otherwise goodbye.

    Callers without a number (an anonymous From) are told goodbye instead.
    """

    action: Literal["callback"]
    key: DtmfKey = "1"
    timeout_s: float = Field(10.0, gt=0, le=60)


class TransferAtLimit(_LimitAction):
    """Send the caller on to `uri` (another site, an overflow line)."""

    action: Literal["transfer"]
    uri: TransferUri


class VoicemailAtLimit(_LimitAction):
    """Record a message of at most `max_s` seconds to a WAV file.

    The recording ends earlier on ``#``, after `silence_s` of quiet, or on hang-up.
    """

    action: Literal["voicemail"]
    max_s: float = Field(120.0, ge=5, le=600)
    silence_s: float = Field(5.0, ge=1, le=60)
    # Folder of the recordings, relative to the queues file; None = <data_dir>/voicemail.
    dir: Path | None = None

    @field_validator("dir")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _relative_to_file(value, info)


class GoodbyeAtLimit(_LimitAction):
    """Say goodbye and hang up."""

    action: Literal["goodbye"]


def _action_shorthand(value: Any) -> Any:
    # `at_limit: goodbye` is short for `at_limit: {action: goodbye}`.
    return {"action": value} if isinstance(value, str) else value


AtLimit = Annotated[
    CallbackAtLimit | TransferAtLimit | VoicemailAtLimit | GoodbyeAtLimit,
    Field(discriminator="action"),
    BeforeValidator(_action_shorthand),
]


def _relative_to_file(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    return value if value.is_absolute() or base is None else Path(base) / value


class QueueSpec(ConfigModel):
    """One queue; the name is its key in the file."""

    name: QueueName
    # Higher first: across queues an agent serves, and within one (escalated callers).
    priority: int = Field(0, ge=-1000, le=1000)
    # Skills an agent needs, {name: minimum level}, or a list of names (level 1).
    skills: Skills = {}
    strategy: Strategy = Strategy.LONGEST_IDLE
    # Longest wait before `at_limit`; None = no limit.
    max_wait_s: float | None = Field(600.0, gt=0)
    # Most callers waiting; one more gets `at_limit` at once. None = no limit.
    max_length: int | None = Field(None, ge=1)
    at_limit: AtLimit = GoodbyeAtLimit(action="goodbye")
    # A WAV played in a loop while waiting, relative to this file; None = the engine's tone.
    hold_audio: Path | None = None
    # Announcements every so many seconds of waiting; 0 = none.
    announce_every_s: float = Field(60.0, ge=0)
    announce_position: bool = True
    announce_wait: bool = True
    # A key that leaves a callback request instead of waiting; None = not offered.
    callback_key: DtmfKey | None = None
    # Seconds an agent stays in wrap-up after a call of this queue; 0 = ready at once.
    wrap_up_s: float = Field(10.0, ge=0, le=3600)
    # Added to `priority` for callers the dialog escalated (they go ahead of the others).
    escalation_boost: int = Field(10, ge=0, le=1000)
    # When the agent ends the call first: hang up, or return the caller to the flow.
    after_agent: AfterAgent = AfterAgent.HANGUP

    @field_validator("hold_audio")
    @classmethod
    def _hold_audio(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _relative_to_file(value, info)
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path

    @field_validator("announce_every_s")
    @classmethod
    def _not_too_often(cls, value: float) -> float:
        if 0 < value < 10:
            raise ValueError("announcements need at least 10 s between them (or 0 for none)")
        return value

    def entry_priority(self, escalated: bool = False) -> int:
        """The priority of a caller joining this queue."""
        return self.priority + (self.escalation_boost if escalated else 0)


def _names_from_keys(value: Any) -> Any:
    if isinstance(value, dict):
        queues = value.get("queues")
        if isinstance(queues, dict):
            value = {**value, "queues": {
                key: {"name": key, **item} if isinstance(item, dict) and "name" not in item
                else item for key, item in queues.items()}}
    return value


class QueuesConfig(ConfigModel):
    """The whole queues file."""

    queues: dict[str, QueueSpec] = {}

    _names = model_validator(mode="before")(_names_from_keys)

    @model_validator(mode="after")
    def _name_is_the_key(self) -> QueuesConfig:
        for key, queue in self.queues.items():
            if queue.name != key:
                raise ValueError(f"queue {key}: name {queue.name!r} differs from its key; "
                                 "leave name out, the key is the name")
        return self


def check_against_agents(queues: QueuesConfig, agents: AgentsConfig, lines: LineMap,
                         path: Path) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """Errors (skills no agent has) and warnings (no agent qualifies) of `queues`."""
    errors: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    known = agents.skills()
    for name, queue in queues.queues.items():
        unknown = [skill for skill in queue.skills if skill not in known]
        for skill in unknown:
            errors.append(problem_at(path, lines, ("queues", name, "skills", skill),
                                     f"no agent has the skill {skill!r}"))
        if unknown or not agents.agents:
            continue
        if not any(agent.has_skills(queue.skills) for agent in agents.agents.values()):
            warnings.append(problem_at(path, lines, ("queues", name, "skills"),
                                       "no agent has every required skill at its level: "
                                       "nobody can take this queue's calls"))
    return errors, warnings


def parse_queues(data: dict[str, Any], lines: LineMap, path: Path) -> QueuesConfig:
    """Validate the queues file's `data` (read from `path`); raises AcdConfigError."""
    try:
        return QueuesConfig.model_validate(data, context={"base": path.parent})
    except ValidationError as exc:
        raise AcdConfigError(validation_problems(exc, lines, path)) from None


def load_queues(path: Path, agents: AgentsConfig | None
                ) -> tuple[QueuesConfig, list[ConfigProblem]]:
    """Read and check the queues file, against `agents` unless None.

    Returns the queues and the warnings; raises AcdConfigError naming file:line.
    """
    data, lines = read_yaml(path)
    queues = parse_queues(data, lines, path)
    if agents is None:
        return queues, []
    errors, warnings = check_against_agents(queues, agents, lines, path)
    if errors:
        raise AcdConfigError(errors)
    return queues, warnings
