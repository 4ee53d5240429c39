"""Legs the engine dials may take reserved slots; new conversations may not.

The node under test runs in this process and dials an engine subprocess.
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.core.errors import CapacityError
from sip.call import SipCall
from tests.sip.test_outbound import node_running
from tests.support.processes import EngineProcess

pytestmark = pytest.mark.e2e


async def test_dialled_legs_use_reserved_slots_and_dial_while_draining(
        engine: EngineProcess) -> None:
    async with node_running(**{"sip.max_calls": 2, "sip.reserved_slots": 1}) as node:
        calls: list[SipCall] = []
        try:
            calls.append(await asyncio.wait_for(node.dial(engine.uri("200")), 15))
            # One slot left, and it is reserved: a campaign call may not take it...
            with pytest.raises(CapacityError, match="reserved for agents"):
                await node.dial(engine.uri("200"), use_reserved=False)
            # ... an agent's leg may, also while the node drains.
            node.drain()
            calls.append(await asyncio.wait_for(node.dial(engine.uri("200")), 15))
            stats = await node.stats()
            assert (stats.active_calls, stats.draining) == (2, True)
            with pytest.raises(CapacityError):
                await node.dial(engine.uri("200"))
        finally:
            for call in calls:
                await call.hangup()
                await node.wait_ended(call)
