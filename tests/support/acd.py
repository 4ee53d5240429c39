"""The human queue for end-to-end tests and benches: its config files, the engine, its state.

    engine = acd_engine(folder, flow=desk_flow(),
                        agents=agents_yaml({"1001": desk_agent("First Agent", "4711")},
                                           session={"tone_s": 0.4}),
                        queues=desk_queues(max_wait_s=120, announce_every_s=0))
    wait_for("agent 1001 logged in", lambda: agent_state(engine, "1001") == "not_ready")

The flow, agents and queues files are written into `folder`; the engine
runs in ``folder / "engine"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import EngineProcess

DESK_FLOW_NAME = "to_desk"


def desk_flow(*, agent_say: str | None = "Connecting you.", returns: bool = False) -> str:
    """A flow that sends every caller to the queue ``desk`` at once (no speech needed).

    `agent_say` is the escalation's line for the agent (none when None);
    with `returns`, a caller the agent hands back hears "Welcome back. Goodbye.".
    """
    escalation: dict[str, Any] = {"queue": "desk", "say": "One moment."}
    if agent_say is not None:
        escalation["agent_say"] = agent_say
    escalation["unavailable"] = "Nobody can take your call. Goodbye."
    transfer: dict[str, Any] = {"queue": "desk"}
    states: dict[str, Any] = {"to_desk": {"do": [{"transfer": transfer}]}}
    if returns:
        transfer["on_return"] = "back"
        states["back"] = {"do": [{"hangup": "Welcome back. Goodbye."}]}
    return yaml.safe_dump({"flow": DESK_FLOW_NAME, "start": "to_desk", "queues": {"desk": {}},
                           "escalation": escalation, "states": states}, sort_keys=False)


def desk_agent(name: str, pin: str, **more: Any) -> dict[str, Any]:
    """One agent of the queue ``desk`` (skill level 5), with any other fields in `more`."""
    return {"name": name, "pin": pin, "skills": {"desk": 5}, **more}


DESK_AGENTS = {"1001": desk_agent("First Agent", "4711"),
               "1002": desk_agent("Second Agent", "2580")}  # two agents of ``desk``


def agents_yaml(agents: dict[str, dict[str, Any]], *, session: dict[str, Any] | None = None,
                on_demand: dict[str, Any] | None = None) -> str:
    """An agents file: `agents`, after an ``on_demand`` block (given `on_demand`) and an
    agent session on number 200 with `session`'s settings (given `session`, even empty)."""
    config: dict[str, Any] = {}
    if on_demand is not None:
        config["on_demand"] = on_demand
    if session is not None:
        config["session"] = {"number": "200", **session}
    config["agents"] = agents
    return yaml.safe_dump(config, sort_keys=False)


def desk_queues(**desk: Any) -> str:
    """A queues file with the one queue ``desk`` (skill ``desk`` 1) and `desk`'s settings."""
    return yaml.safe_dump({"queues": {"desk": {"skills": {"desk": 1}, **desk}}},
                          sort_keys=False)


def acd_settings(folder: Path, *, flow: str, agents: str, queues: str) -> dict[str, Any]:
    """Write the flow, agents and queues files into `folder`; the engine settings using them."""
    flows = folder / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    name = yaml.safe_load(flow)["flow"]
    (flows / f"{name}.yaml").write_text(flow)
    (folder / "agents.yaml").write_text(agents)
    (folder / "queues.yaml").write_text(queues)
    return {"engine": {"flow": name, "flows_dir": str(flows)},
            "acd": {"agents_file": str(folder / "agents.yaml"),
                    "queues_file": str(folder / "queues.yaml")}}


def acd_engine(folder: Path, *, flow: str, agents: str, queues: str,
               settings: dict[str, Any] | None = None, start: bool = True) -> EngineProcess:
    """An engine in ``folder / "engine"`` running `flow` with these agents and queues.

    `settings` add to (or override) the engine's, section by section. Started
    unless `start` is false (to prepare its store first).
    """
    config = acd_settings(folder, flow=flow, agents=agents, queues=queues)
    for section, values in (settings or {}).items():
        config.setdefault(section, {}).update(values)
    engine = EngineProcess(folder / "engine", config)
    return engine.start(timeout=120) if start else engine


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30,
             every: float = 0.2) -> Any:
    """`check()`'s first true value, asked every `every` s; an AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
    return found


def agent_state(engine: EngineProcess, agent_id: str) -> str | None:
    """The agent's stored state (None before it is known)."""
    store = engine.store()
    try:
        agent = store.acd.agent(agent_id)
        return None if agent is None else agent.state
    finally:
        store.close()


def call_from(store: Any, number: str) -> Any:
    """The most recent of the store's last 50 calls made from `number`."""
    return next(c for c in store.recent_calls(50) if f"sip:{number}@" in c.from_uri)
