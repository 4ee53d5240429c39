"""The embedded event bus: events fanned out to subscribers in this process.

Every subscriber has its own bounded queue. A subscriber that does not keep
up loses its oldest events (counted in :attr:`Subscription.dropped`); the
publisher, which is a call, never waits. :class:`Subscription` is also the
subscriber side of the MQTT bus.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from callcenter.core.events import Event, topic_matches

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = 1000


class Subscription:
    """Events matching one pattern, as an async iterator.

    Iteration ends (``StopAsyncIteration``) once the bus closes and the
    events queued before that have been read. Call :meth:`aclose` to stop
    listening earlier; a subscription nobody references any more is
    forgotten by its bus too.
    """

    def __init__(self, pattern: str, maxsize: int = SUBSCRIBER_QUEUE,
                 on_close: Callable[[Subscription], None] | None = None) -> None:
        self.pattern = pattern
        self.dropped = 0
        self._maxsize = maxsize
        # Bounded by offer(), so the end marker always finds room.
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._ended = False
        self._on_close = on_close

    @property
    def ended(self) -> bool:
        """True once no further event will be queued."""
        return self._ended

    def offer(self, event: Event) -> None:
        """Queue `event` without waiting, dropping the oldest one if full."""
        if self._ended:
            return
        if self._queue.qsize() >= self._maxsize:
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("subscriber to %r is slow; %d event(s) dropped so far",
                            self.pattern, self.dropped)
        self._queue.put_nowait(event)

    def end(self) -> None:
        """Let the iterator finish after the events already queued."""
        if self._ended:
            return
        self._ended = True
        self._queue.put_nowait(None)

    async def aclose(self) -> None:
        """Stop listening now; pending events are discarded."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self.end()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later calls end too
            raise StopAsyncIteration
        return item


class InProcessEventBus:
    """The default :class:`~callcenter.core.events.EventBus`, within one process.

    No broker, nothing persisted: an event reaches the subscriptions that
    exist when it is published. :meth:`publish` never blocks or raises, also
    after :meth:`close` (the event is then discarded).
    """

    def __init__(self, subscriber_queue: int = SUBSCRIBER_QUEUE) -> None:
        self._subscriber_queue = subscriber_queue
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._closed = False

    async def start(self) -> None:
        """Nothing to connect; here for the protocol."""

    async def publish(self, event: Event) -> None:
        """Hand `event` to every subscription whose pattern matches its topic."""
        if self._closed:
            return
        topic = event.topic
        for sub in list(self._subs):
            if topic_matches(sub.pattern, topic):
                sub.offer(event)

    def subscribe(self, pattern: str = "#") -> Subscription:
        """Events published from now on whose topic matches `pattern`."""
        sub = Subscription(pattern, self._subscriber_queue, self._subs.discard)
        if self._closed:
            sub.end()
        else:
            self._subs.add(sub)
        return sub

    def watched(self, topic: str) -> bool:
        """Whether a live subscription's pattern matches `topic`."""
        return any(topic_matches(sub.pattern, topic) for sub in list(self._subs))

    async def close(self) -> None:
        """End every subscription (after what it has queued); idempotent."""
        self._closed = True
        for sub in list(self._subs):
            sub.end()
        self._subs.clear()
