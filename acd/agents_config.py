"""The agents file (``config/agents.yaml``): who takes calls, and how.

    agents = load_agents(Path("config/agents.yaml"))     # AcdConfigError: file:line
    agents.agents["1001"].skills                         # {"front_desk": 8}

Agents are keyed by their id, the digits they key in to log in, so an id
is unique by construction (a key given twice is an error). Checked: ids of
1 to 10 digits, PINs of 4 to 8 digits written in quotes, skill levels 1 to
10, phones as ``sip:``/``sips:`` URIs (required for on-demand agents),
distinct session keys, not-ready reasons that are not the engine's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, model_validator

from acd.agent_state import ENGINE_REASONS
from acd.config_problems import AcdConfigError, read_yaml, validation_problems
from acd.config_types import AgentId, ConfigModel, DtmfKey, Name, Pin, Quoted, SipUri, Skills
from callcenter.core.yaml_lines import LineMap


class AgentMode(StrEnum):
    """How an agent takes calls."""

    # The agent's phone calls the engine, logs in by DTMF and stays connected.
    SESSION = "session"
    # The engine rings the agent's phone for each call.
    ON_DEMAND = "on_demand"


class StartState(StrEnum):
    """Where an on-demand agent is when the engine starts."""

    LOGGED_OUT = "logged_out"  # until logged in through the control API
    NOT_READY = "not_ready"  # logged in ("logged_in"): queues take callers, none rung yet
    READY = "ready"  # rung for callers at once


class AgentSpec(ConfigModel):
    """One agent: the id is its key in the file."""

    id: AgentId
    name: str = Field(min_length=1)
    pin: Pin
    mode: AgentMode = AgentMode.SESSION
    phone: SipUri | None = None
    skills: Skills = {}
    # May listen in, whisper and barge into calls (with their session or phone).
    supervisor: bool = False
    # On-demand agents only (session agents log in by phone).
    at_start: StartState = StartState.LOGGED_OUT

    @model_validator(mode="after")
    def _on_demand_needs_phone(self) -> AgentSpec:
        if self.mode is AgentMode.ON_DEMAND and self.phone is None:
            raise ValueError("an on_demand agent needs a phone (the SIP URI the engine rings)")
        if self.mode is AgentMode.SESSION and self.at_start is not StartState.LOGGED_OUT:
            raise ValueError("at_start is for on_demand agents; a session agent logs in "
                             "by calling the session number")
        return self

    def has_skills(self, required: Mapping[str, int]) -> bool:
        """Whether the agent has every `required` skill at (at least) its level."""
        return all(self.skills.get(skill, 0) >= level for skill, level in required.items())


class SessionKeys(ConfigModel):
    """Keys an agent presses while logged in to an agent session."""

    ready: DtmfKey = "1"
    not_ready: DtmfKey = "2"  # followed by the key of a reason in not_ready_reasons
    wrap_up_done: DtmfKey = "3"
    log_out: DtmfKey = "9"
    # On a call: end it (the caller goes back to the flow or is hung up); the
    # agent stays logged in. Hanging up the phone instead ends the session.
    end_call: DtmfKey = "*"

    @model_validator(mode="after")
    def _distinct(self) -> SessionKeys:
        keys = [self.ready, self.not_ready, self.wrap_up_done, self.log_out, self.end_call]
        if len(set(keys)) != len(keys):
            raise ValueError("every session key must be a different DTMF key")
        return self


def _agent_reason(value: str) -> str:
    if value in ENGINE_REASONS:
        raise ValueError(f"{value!r} is a reason the engine gives itself; choose another name")
    return value


class SessionSpec(ConfigModel):
    """Agent sessions: the number agents' phones dial, keys, not-ready reasons."""

    # User part of the request URI agents dial to log in (add it to sip.reserved_numbers).
    number: Quoted | None = None
    keys: SessionKeys = SessionKeys()
    # After the not_ready key, this key picks the reason stored with the state.
    not_ready_reasons: dict[DtmfKey, Annotated[Name, AfterValidator(_agent_reason)]] = Field(
        default={"1": "break", "2": "lunch", "3": "training"}, min_length=1)
    ready_on_login: bool = False
    # Wrong id/PIN entries before the engine hangs up on the session.
    login_attempts: int = Field(3, ge=1, le=10)
    # Seconds of the tone an agent hears before a caller is bridged.
    tone_s: float = Field(0.3, ge=0, le=3)
    # Whether the agent hears who calls and why before the tone. Off, only the
    # tone comes first: the fastest connect (bench/agent_connect.py).
    whisper: bool = True


class OnDemandSpec(ConfigModel):
    """On-demand agents: how long the engine rings them, and how many misses it takes."""

    ring_timeout_s: float = Field(20.0, gt=0, le=300)
    # Missed offers in a row after which an agent becomes not ready ("no_answer").
    max_misses: int = Field(2, ge=1, le=100)
    # Seconds of the tone the agent and the caller hear before they are bridged.
    tone_s: float = Field(0.3, ge=0, le=3)


def _ids_from_keys(value: Any) -> Any:
    # Each agent's id is its key; copied in so that the model checks it.
    if isinstance(value, dict) and isinstance(value.get("agents"), dict):
        agents = {key: {"id": key, **item} if isinstance(item, dict) and "id" not in item
                  else item for key, item in value["agents"].items()}
        value = {**value, "agents": agents}
    return value


class AgentsConfig(ConfigModel):
    """The whole agents file."""

    session: SessionSpec = SessionSpec()
    on_demand: OnDemandSpec = OnDemandSpec()
    agents: dict[str, AgentSpec] = {}

    _ids = model_validator(mode="before")(_ids_from_keys)

    @model_validator(mode="after")
    def _id_is_the_key(self) -> AgentsConfig:
        for key, agent in self.agents.items():
            if agent.id != key:
                raise ValueError(f"agent {key}: id {agent.id!r} differs from its key; "
                                 "leave id out, the key is the id")
        return self

    def skills(self) -> set[str]:
        """Every skill some agent has."""
        return {skill for agent in self.agents.values() for skill in agent.skills}


def parse_agents(data: dict[str, Any], lines: LineMap, path: Path) -> AgentsConfig:
    """Validate the agents file's `data` (read from `path`); raises AcdConfigError."""
    try:
        return AgentsConfig.model_validate(data)
    except ValidationError as exc:
        raise AcdConfigError(validation_problems(exc, lines, path)) from None


def load_agents(path: Path) -> AgentsConfig:
    """Read and check the agents file; raises AcdConfigError naming file:line."""
    data, lines = read_yaml(path)
    return parse_agents(data, lines, path)
