"""What the control API sees of its node: the parts it reads and commands.

The engine builds one :class:`ApiContext` once it is wired; tests build one
from a real store and event bus and leave out what they do not need (the
endpoints of a missing part answer 503).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from callcenter.acd_service import AcdService
from callcenter.call_registry import CallRegistry
from callcenter.core.events import EventBus
from callcenter.core.store import AsyncStore
from callcenter.monitoring import MonitorInfo, MonitorMode


class SupervisionPort(Protocol):
    """Listening in as the API commands it (``callcenter.supervision.Supervision``)."""

    async def start(self, call_id: str, mode: MonitorMode, *, supervisor: str,
                    phone: str | None) -> MonitorInfo:
        """Join a supervisor to a live call; raises the SupervisionError family."""
        ...

    async def change_mode(self, monitor_id: str, mode: MonitorMode) -> MonitorInfo:
        """Switch an active monitor to another mode."""
        ...

    async def stop(self, monitor_id: str) -> MonitorInfo:
        """End an active monitor."""
        ...

    def active(self) -> list[MonitorInfo]:
        """The monitors running now."""
        ...


@dataclass
class ApiContext:
    """The node as the API sees it; `closing` is set when the API stops (streams end)."""

    node: str
    store: AsyncStore
    bus: EventBus
    acd: AcdService | None = None
    calls: CallRegistry | None = None
    supervision: SupervisionPort | None = None
    closing: asyncio.Event = field(default_factory=asyncio.Event)
