"""The ACD's configuration: the agents file and the queues file, checked together.

    acd = load_acd_config(Path("config/agents.yaml"), Path("config/queues.yaml"))
    for warning in acd.warnings:
        log.warning("%s", warning)                  # file:line: queues.x.skills: ...
    acd.queues["front-desk"], acd.agents["1001"]

Every problem of both files is reported at once (`AcdConfigError.problems`),
so an operator fixes them in one go. The engine reads these files at start;
they are the source of the agents kept in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acd.agents_config import AgentsConfig, AgentSpec, OnDemandSpec, SessionSpec, load_agents
from acd.config_problems import AcdConfigError, ConfigProblem
from acd.queues_config import QueueSpec, load_queues


@dataclass(frozen=True)
class AcdConfig:
    """Agents and queues, valid and consistent; `warnings` are worth logging."""

    agents_file: AgentsConfig
    queues_by_name: dict[str, QueueSpec]
    warnings: list[ConfigProblem] = field(default_factory=list)

    @property
    def agents(self) -> dict[str, AgentSpec]:
        """Agents by id, in file order."""
        return dict(self.agents_file.agents)

    @property
    def session(self) -> SessionSpec:
        """Agent sessions: login number, keys, not-ready reasons."""
        return self.agents_file.session

    @property
    def on_demand(self) -> OnDemandSpec:
        """On-demand agents: ring timeout and misses allowed."""
        return self.agents_file.on_demand

    @property
    def queues(self) -> dict[str, QueueSpec]:
        """Queues by name, in file order."""
        return dict(self.queues_by_name)


def load_acd_config(agents_path: Path, queues_path: Path) -> AcdConfig:
    """Read and check both files; raises AcdConfigError listing every problem found."""
    problems: list[ConfigProblem] = []
    agents: AgentsConfig | None = None
    try:
        agents = load_agents(agents_path)
    except AcdConfigError as exc:
        problems.extend(exc.problems)
    try:
        # Without valid agents the queues are still checked on their own.
        queues, warnings = load_queues(queues_path, agents)
    except AcdConfigError as exc:
        problems.extend(exc.problems)
    if problems or agents is None:
        raise AcdConfigError(problems)
    return AcdConfig(agents, dict(queues.queues), warnings)
