"""The event bus over an MQTT broker, for nodes that share their events.

:meth:`MqttEventBus.publish` only queues: a background task connects to the
broker, sends ``<topic_prefix>/<event.topic>`` with the event's JSON at
QoS 1, and reconnects forever, every ``reconnect_s`` seconds, when the
broker goes away. The queue is bounded (the oldest event is dropped when it
is full, see :attr:`MqttEventBus.dropped`), so a call never waits on the
broker. An event whose send was cut short by a lost connection is sent
again after reconnecting: delivery is at least once, duplicates possible.

One connection per node carries both directions. The node announces itself
with a retained ``status`` event on ``<prefix>/node/<node>/status``
(``{"status": "online"}``); the broker publishes the ``offline`` one as the
connection's last will if the node vanishes, and :meth:`close` publishes it
on a clean exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import deque

import aiomqtt

from callcenter.core.event_bus import SUBSCRIBER_QUEUE, Subscription
from callcenter.core.events import Event, topic_matches
from callcenter.core.settings import EventSettings

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000
BATCH = 100
FLUSH_TIMEOUT_S = 2.0
_DISCONNECT_TIMEOUT_S = 1.0


class MqttEventBus:
    """An :class:`~callcenter.core.events.EventBus` backed by an MQTT broker.

    Patterns given to :meth:`subscribe` are relative to the topic prefix,
    like event topics. Subscriptions survive reconnects; events published
    while the node was disconnected from the broker are not replayed to it.
    """

    def __init__(self, settings: EventSettings, node: str, *,
                 max_queued: int = MAX_QUEUED, subscriber_queue: int = SUBSCRIBER_QUEUE,
                 flush_timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        self._mqtt = settings.mqtt
        self._prefix = settings.topic_prefix.strip("/")
        self._node = node
        self._max_queued = max_queued
        self._subscriber_queue = subscriber_queue
        self._flush_timeout_s = flush_timeout_s
        self._pending: deque[Event] = deque()
        self._inflight: list[Event] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._connected = asyncio.Event()
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._broker_patterns: set[str] = set()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._outage_logged = False
        self._overflow_logged = False
        self.dropped = 0
        """Events dropped because the send queue was full."""

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._connected.is_set()

    @property
    def queued(self) -> int:
        """Events not yet acknowledged by the broker."""
        return len(self._pending) + len(self._inflight)

    async def start(self) -> None:
        """Start connecting in the background and return at once; idempotent."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-events-{self._node}")

    async def wait_connected(self) -> None:
        """Return once the bus is connected (bound it with a timeout)."""
        await self._connected.wait()

    async def publish(self, event: Event) -> None:
        """Queue `event` for the broker; never waits and never raises.

        After :meth:`close` the event is discarded.
        """
        if self._closed:
            log.debug("event bus closed; %s not published", event.topic)
            return
        if len(self._pending) >= self._max_queued:
            self._pending.popleft()
            self.dropped += 1
            if not self._overflow_logged:
                self._overflow_logged = True
                log.warning("MQTT send queue full (%d); dropping the oldest events",
                            self._max_queued)
        self._pending.append(event)
        self._idle.clear()
        self._wake.set()

    def watched(self, topic: str) -> bool:
        """True while open: the broker's other subscribers cannot be seen."""
        return not self._closed

    def subscribe(self, pattern: str = "#") -> Subscription:
        """Events from the broker whose topic (below the prefix) matches `pattern`.

        The broker subscription is made before any event published on this
        bus afterwards is sent, so such an event is seen.
        """
        sub = Subscription(pattern, self._subscriber_queue, self._forget)
        if self._closed:
            sub.end()
        else:
            self._subs.add(sub)
            self._wake.set()
        return sub

    async def close(self) -> None:
        """Send what is queued within the flush timeout, say offline, disconnect.

        Events still queued after the timeout are lost (and logged).
        Subscriptions end. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        try:
            async with asyncio.timeout(self._flush_timeout_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("closing the MQTT event bus with %d event(s) undelivered", self.queued)
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                    await client.publish(self._status_topic, self._status("offline"),
                                         qos=1, retain=True)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            _, pending = await asyncio.wait({task}, timeout=_DISCONNECT_TIMEOUT_S)
            if pending:  # stuck in a graceful disconnect: give up on it
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in list(self._subs):
            sub.end()
        self._subs.clear()

    # -- background ---------------------------------------------------------

    @property
    def _status_topic(self) -> str:
        return self._full(f"node/{self._node}/status")

    def _status(self, status: str) -> str:
        return Event("status", {"status": status}, node=self._node).to_json()

    def _full(self, topic: str) -> str:
        return f"{self._prefix}/{topic}" if self._prefix else topic

    def _relative(self, topic: str) -> str | None:
        if not self._prefix:
            return topic
        head = self._prefix + "/"
        return topic[len(head):] if topic.startswith(head) else None

    def _forget(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        self._wake.set()

    async def _run(self) -> None:
        where = f"{self._mqtt.host}:{self._mqtt.port}"
        while True:
            try:
                await self._session(where)
            except (aiomqtt.MqttError, OSError) as exc:
                reason = _why(exc)
            except ExceptionGroup as group:  # from a batch of publishes
                reason = _why(group.exceptions[0])
            except Exception:
                log.exception("MQTT event bus failed; reconnecting")
                reason = "unexpected error"
            else:
                reason = "connection closed"
            finally:
                self._client = None
                self._connected.clear()
            if not self._outage_logged:
                self._outage_logged = True
                log.warning("MQTT broker %s unavailable (%s); %d event(s) queued, "
                            "retrying every %gs", where, reason, self.queued,
                            self._mqtt.reconnect_s)
            else:
                log.debug("MQTT broker %s still unavailable: %s", where, reason)
            await asyncio.sleep(self._mqtt.reconnect_s)

    async def _session(self, where: str) -> None:
        client = aiomqtt.Client(
            self._mqtt.host, self._mqtt.port,
            username=self._mqtt.username, password=self._mqtt.password,
            keepalive=self._mqtt.keepalive_s,
            identifier=f"{self._node}-{uuid.uuid4().hex[:8]}",
            will=aiomqtt.Will(self._status_topic, self._status("offline"), qos=1, retain=True),
        )
        client.pending_calls_threshold = BATCH + 10  # a full batch is expected, not a warning
        async with client:
            self._client = client
            self._broker_patterns = set()
            await client.publish(self._status_topic, self._status("online"), qos=1, retain=True)
            self._connected.set()
            if self._outage_logged:
                log.info("reconnected to MQTT broker %s; %d event(s) to send", where, self.queued)
            else:
                log.info("connected to MQTT broker %s", where)
            self._outage_logged = False
            sender = asyncio.create_task(self._send(client))
            receiver = asyncio.create_task(self._receive(client))
            try:
                done, _ = await asyncio.wait({sender, receiver},
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sender, receiver):
                    task.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
            for task in done:
                task.result()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            await self._sync_subscriptions(client)
            if not self._inflight:
                if not self._pending:
                    self._overflow_logged = False
                    self._idle.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                count = min(len(self._pending), BATCH)
                self._inflight = [self._pending.popleft() for _ in range(count)]
            # Cut short by a lost connection, the whole batch is sent again.
            async with asyncio.TaskGroup() as group:
                for event in self._inflight:
                    group.create_task(client.publish(self._full(event.topic), event.to_json(),
                                                     qos=1))
            self._inflight = []

    async def _sync_subscriptions(self, client: aiomqtt.Client) -> None:
        wanted = {sub.pattern for sub in self._subs if not sub.ended}
        for pattern in wanted - self._broker_patterns:
            await client.subscribe(self._full(pattern), qos=1)
            self._broker_patterns.add(pattern)
        for pattern in self._broker_patterns - wanted:
            await client.unsubscribe(self._full(pattern))
            self._broker_patterns.discard(pattern)

    async def _receive(self, client: aiomqtt.Client) -> None:
        # Also how a lost connection is noticed: the iterator raises MqttError.
        async for message in client.messages:
            topic = self._relative(message.topic.value)
            payload = message.payload
            if topic is None or not isinstance(payload, (bytes, bytearray, str)):
                continue
            try:
                event = Event.from_json(bytes(payload) if isinstance(payload, bytearray)
                                        else payload)
            except ValueError:
                log.debug("ignoring a non-event message on %s", message.topic.value)
                continue
            for sub in list(self._subs):
                if topic_matches(sub.pattern, topic):
                    sub.offer(event)


def _why(exc: BaseException) -> str:
    """One line on what went wrong, with the lower-level cause if any."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    return f"{text}: {cause or type(cause).__name__}" if cause is not None else text
