"""Which leg hears which while a supervisor is on a call: one pure function.

    routes = plan_routes(MonitorMode.WHISPER, caller, agents=[agent_leg], gone=[])
    await node.set_routes(supervisor_leg, routes)

The supervisor always hears the caller, what the engine sends the caller
(the bot, queue tones and announcements: what the caller hears from the
engine) and every agent talking with the caller. Who hears the supervisor
depends on the mode (:mod:`callcenter.monitoring`): nobody (listen), the
agents (whisper), the caller and the agents (barge). Legs that were part of
the call and have left (`gone`) lose every route with the supervisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from callcenter.monitoring import MonitorMode
from sip.conference import LegRoute

Leg = TypeVar("Leg")


def plan_routes(mode: MonitorMode, caller: Leg, *, agents: Sequence[Leg],
                gone: Sequence[Leg] = ()) -> list[tuple[Leg, LegRoute]]:
    """The routes between the supervisor and each leg of the call, for `mode`."""
    routes = [(caller, LegRoute(hears=True, hears_engine=True,
                                heard=mode is MonitorMode.BARGE))]
    heard_by_agents = mode in (MonitorMode.WHISPER, MonitorMode.BARGE)
    routes += [(agent, LegRoute(hears=True, heard=heard_by_agents)) for agent in agents]
    routes += [(leg, LegRoute()) for leg in gone if leg is not caller and leg not in agents]
    return routes
