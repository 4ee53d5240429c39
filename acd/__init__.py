"""The human side of the call center: agents, their states, queues, routing, callbacks.

Imports only the kernel (`callcenter.core`). Pure and synchronous: no SIP,
no timers, no I/O but reading the two config files; the wiring owns the
clock, the calls and the store, and calls these from its event loop.

    acd = load_acd_config(Path("config/agents.yaml"), Path("config/queues.yaml"))
    status = AgentStatus("1001", clock=now, max_misses=acd.agents_file.on_demand.max_misses)
    queue = CallQueue.from_spec(acd.queues["front-desk"])
    offers = plan_offers([(spec, queue.waiting())], snapshots, rotation)

Modules, one concept each:

    config, agents_config, queues_config   the two YAML files, checked (file:line errors)
    config_types, config_problems          their value types and error reporting
    agent_state                            an agent's states and transitions
    session_keys                           an agent session's DTMF: login, commands
    pins                                   salted scrypt PIN hashes
    queue_model                            the callers waiting in one queue, and exits
    routing                                which agent takes which caller (strategies)
    expected_wait, announcements           wait estimates and what callers hear
    agent_sync                             the agents file written to the store
"""

from acd.agent_state import AgentState, AgentStatus, IllegalTransition, StateChange
from acd.agents_config import AgentMode, AgentsConfig, AgentSpec
from acd.config import AcdConfig, load_acd_config
from acd.config_problems import AcdConfigError, ConfigProblem
from acd.queue_model import (
    CallbackReason,
    CallbackRequest,
    CallQueue,
    Limit,
    Outcome,
    QueueExit,
    WaitingCaller,
)
from acd.queues_config import AfterAgent, QueueSpec, Strategy
from acd.routing import AgentSnapshot, Offer, Rotation, choose_agent, plan_offers

__all__ = [
    "AcdConfig", "AcdConfigError", "AfterAgent", "AgentMode", "AgentSnapshot", "AgentSpec",
    "AgentState", "AgentStatus", "AgentsConfig", "CallQueue", "CallbackReason",
    "CallbackRequest", "ConfigProblem", "IllegalTransition", "Limit", "Offer", "Outcome",
    "QueueExit", "QueueSpec", "Rotation", "StateChange", "Strategy", "WaitingCaller",
    "choose_agent", "load_acd_config", "plan_offers",
]
