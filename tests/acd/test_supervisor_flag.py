"""Supervisors in the agents file: a flag, off by default; a bad value names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.agents_config import load_agents
from acd.config_problems import AcdConfigError

AGENTS = """\
agents:
  "1001":
    name: Dana
    pin: "4711"
  "1009":
    name: Pat
    pin: "9090"
    supervisor: true
"""


def test_supervisors_are_marked_and_others_are_not(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(AGENTS)
    agents = load_agents(path).agents
    assert agents["1009"].supervisor and not agents["1001"].supervisor


def test_a_supervisor_flag_that_is_not_a_boolean_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(AGENTS.replace("supervisor: true", "supervisor: maybe"))
    with pytest.raises(AcdConfigError) as exc:
        load_agents(path)
    problems = [str(p) for p in exc.value.problems]
    assert any(p.startswith(f"{path}:8: agents.1009.supervisor:") for p in problems), problems
