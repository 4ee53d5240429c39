"""A real mosquitto broker on a loopback port, started and stopped by tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

MOSQUITTO = Path("/usr/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """A mosquitto on a fixed loopback port that a test can stop and start."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.config = tmp_path / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                               "persistence false\n")
        self.log = tmp_path / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not MOSQUITTO.exists():
            raise RuntimeError("mosquitto not found: install the Debian package mosquitto")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.proc = None


class Tap:
    """A plain MQTT subscriber collecting JSON messages in the background:
    ``(topic, payload)`` pairs in :attr:`seen`, in arrival order."""

    def __init__(self, port: int, pattern: str) -> None:
        self.port, self.pattern = port, pattern
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Tap:
        """Subscribed once this returns."""
        client = await self._stack.enter_async_context(aiomqtt.Client("127.0.0.1", self.port))
        await client.subscribe(self.pattern, qos=1)
        self._task = asyncio.create_task(self._listen(client))
        return self

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if isinstance(message.payload, bytes):
                self.seen.append((message.topic.value, json.loads(message.payload)))

    async def wait_for(self, done: Callable[[list[tuple[str, dict[str, Any]]]], bool],
                       timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
        """What was seen once ``done(seen)`` holds, or at the timeout."""
        deadline = time.monotonic() + timeout
        while not done(self.seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.seen

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A mosquitto of the test's own, stopped after it."""
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
