"""What the control API takes and gives, as documented in its OpenAPI schema.

Times are ISO 8601 in UTC. Live calls and monitors use the node's own
records (`callcenter.call_registry.LiveCallInfo`,
`callcenter.monitoring.MonitorInfo`), so they are defined once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acd.agent_state import AgentState
from callcenter.monitoring import MonitorMode


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(_Out):
    """An error: what went wrong, in words."""

    detail: str = Field(description="What went wrong, naming the thing at fault.")


class Me(_Out):
    """The user the token belongs to."""

    name: str
    role: str = Field(description="agent | supervisor | admin")
    agent_id: str | None = Field(None, description="The ACD agent an agent user is.")


class Agent(_Out):
    """An agent of the human queue and their live state on this node."""

    id: str = Field(description="The agent id (the digits keyed in to log in).")
    name: str
    mode: str = Field(description="session (logged in by phone) or on_demand (rung per call).")
    state: AgentState
    reason: str | None = Field(None, description="Why: a not-ready reason, or the engine's "
                               "own (logged_in, no_answer, disconnected).")
    since: datetime = Field(description="When the agent entered this state.")
    call_id: str | None = Field(None, description="The caller offered or talked to.")
    wrap_up_ends_at: datetime | None = Field(None, description="When wrap-up ends by itself.")
    session: bool = Field(description="Whether the agent's phone is connected in a session.")
    skills: dict[str, int] = Field(description="Skill name to level (1-10).")
    queues: list[str] = Field(description="Queues whose required skills the agent has.")


class AgentAction(StrEnum):
    """What an agent (or an admin for them) may ask of their state."""

    READY = "ready"
    NOT_READY = "not_ready"
    WRAP_UP_DONE = "wrap_up_done"
    LOG_IN = "log_in"  # on-demand agents (session agents log in by phone)
    LOG_OUT = "log_out"  # on-demand agents


class AgentStateChange(BaseModel):
    """A state change asked for, as the session's keys would."""

    model_config = ConfigDict(extra="forbid")

    action: AgentAction = Field(description="ready | not_ready | wrap_up_done; log_in | "
                                "log_out for on-demand agents")
    reason: str | None = Field(None, description="For not_ready: one of the agents file's "
                               "not-ready reasons (e.g. break, lunch).")


class WaitingCaller(_Out):
    """A caller waiting in a queue."""

    position: int = Field(description="1 = served next.")
    call_id: str
    number: str | None = Field(None, description="The caller's number.")
    priority: int
    waited_s: float
    offered_to: str | None = Field(None, description="The agent being offered this caller.")


class Queue(_Out):
    """A queue's live figures on this node."""

    name: str
    priority: int
    strategy: str
    skills: dict[str, int] = Field(description="Required skills and their minimum levels.")
    waiting: int = Field(description="Callers waiting now.")
    longest_wait_s: float | None = Field(None, description="How long the first-come caller "
                                         "has waited; null when nobody waits.")
    expected_wait_s: float | None = Field(None, description="What a caller joining now can "
                                          "expect to wait; null when unknown.")
    agents: dict[AgentState, int] = Field(description="Agents with the queue's skills, by "
                                          "state (every state listed).")
    max_length: int | None = None
    max_wait_s: float | None = None
    callers: list[WaitingCaller] = Field(description="The waiting callers, next first.")


class StoredEvent(_Out):
    """One stored event of a call (as ``callcenter events CALL_ID --json``)."""

    id: int
    call_id: str
    at: datetime
    kind: str
    data: dict[str, Any]


class LiveEvent(_Out):
    """One event of the node's event bus, as sent on the stream (the SSE ``data``)."""

    topic: str = Field(description="Below the bus prefix: calls/<call id>/<kind>, "
                       "node/<node>/<kind>, agents/<agent id>/<kind>...")
    kind: str
    call_id: str | None = None
    node: str | None = None
    at: datetime
    data: dict[str, Any]


class MonitorRequest(BaseModel):
    """Join a supervisor to a live call."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(description="The call to join (its id, or a unique prefix of it).")
    mode: MonitorMode = Field(MonitorMode.LISTEN, description="listen | whisper | barge")
    phone: str | None = Field(None, description="SIP URI the engine rings for the "
                              "supervisor; null = the supervisor's own agent session.")


class MonitorChange(BaseModel):
    """Switch an active monitor to another mode."""

    model_config = ConfigDict(extra="forbid")

    mode: MonitorMode
