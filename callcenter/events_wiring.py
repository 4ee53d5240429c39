"""Which event bus a node uses, from its settings."""

from __future__ import annotations

from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.events import EventBus
from callcenter.core.settings import EventSettings
from callcenter.mqtt_events import MqttEventBus


def make_event_bus(settings: EventSettings, node: str) -> EventBus:
    """The bus for ``events.backend``: in-process (``memory``) or ``mqtt``.

    The bus is not started; the caller owns ``start()`` and ``close()``.
    """
    if settings.backend == "mqtt":
        return MqttEventBus(settings, node)
    return InProcessEventBus()
