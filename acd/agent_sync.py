"""The agents file written to the store at start: the file is the source.

    sync_agents(store, acd.agents_file, at=datetime.now(UTC))   # blocking: run off the loop

PINs reach the store only as salted hashes (`acd.pins`). A stored hash that
still matches the configured PIN is kept, so a restart does not rewrite
every row; a changed PIN gets a new hash. Agents the file no longer lists
are marked inactive (their history stays). Hashing costs about 50 ms per
agent whose PIN changed or who is new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from acd.agents_config import AgentsConfig, AgentSpec
from acd.pins import hash_pin, verify_pin
from callcenter.core.store import AgentInput, Store


def agent_inputs(agents: Mapping[str, AgentSpec],
                 stored_hashes: Mapping[str, str]) -> list[AgentInput]:
    """The rows to write for `agents`, reusing each stored PIN hash that still matches."""
    inputs: list[AgentInput] = []
    for agent in agents.values():
        stored = stored_hashes.get(agent.id)
        pin_hash = stored if stored is not None and verify_pin(stored, agent.pin) else hash_pin(
            agent.pin)
        inputs.append(AgentInput(id=agent.id, name=agent.name, pin_hash=pin_hash,
                                 mode=agent.mode.value, phone=agent.phone,
                                 skills=dict(agent.skills)))
    return inputs


def sync_agents(store: Store, config: AgentsConfig, at: datetime) -> None:
    """Write the configured agents to `store` (blocking; one unit of work for the rows)."""
    stored = {a.id: a.pin_hash for a in store.acd.agents(include_inactive=True)}
    store.acd.sync_agents(agent_inputs(config.agents, stored), at)
