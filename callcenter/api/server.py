"""The control API's HTTP server, on the engine's own event loop.

    api = ApiServer(settings.api, ctx, data_dir=..., node=engine.name)
    url = await api.start()        # SettingsError if api.host:api.port cannot be bound
    ...
    await api.stop()               # live event streams end, connections close

The socket is bound here (port 0 = any free port), so a taken port is a
clear start-up error naming the setting. uvicorn then serves on it as a task
of the engine's loop, without its own signal handlers (the engine owns
SIGINT and SIGTERM). The bound URL is logged and written to
``<data_dir>/run/<node>.api`` (removed at stop), where the CLI finds a
local node's API. A failure of the server is logged; calls go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from callcenter.api.app import create_app
from callcenter.api.context import ApiContext
from callcenter.core.errors import SettingsError
from callcenter.core.settings import ApiSettings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def url_file(data_dir: Path, node: str) -> Path:
    """Where a running node's API URL is written (next to its pid file)."""
    return data_dir / "run" / f"{node}.api"


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the engine decides when the API stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """The API of one node; `start` once, `stop` once."""

    def __init__(self, settings: ApiSettings, ctx: ApiContext, *, data_dir: Path,
                 node: str) -> None:
        self.settings = settings
        self.ctx = ctx
        self.url = ""
        self._url_file = url_file(data_dir, node)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Bind, serve, and return the URL (``http://host:port``)."""
        host, port = self.settings.host, self.settings.port
        # uvicorn's own start and stop lines say less than ours.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.ctx), http="h11", ws="none", lifespan="off",
                                log_config=None, access_log=False, server_header=False,
                                timeout_graceful_shutdown=2)
        self._server = server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(self._serve(server, sock),
                                                            name="control-api")
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not server.started:
            if self._task.done() or asyncio.get_running_loop().time() > deadline:
                raise SettingsError(f"api: the control API did not start on {host}:{bound}")
            await asyncio.sleep(0.01)
        self.url = f"http://{_local(host)}:{bound}"
        await asyncio.to_thread(self._write_url)
        log.info("control API on %s (docs at %s/docs)", self.url, self.url)
        return self.url

    async def _serve(self, server: _EmbeddedServer, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except (Exception, SystemExit):
            log.exception("the control API failed; calls go on without it")
        finally:
            sock.close()

    def _write_url(self) -> None:
        self._url_file.parent.mkdir(parents=True, exist_ok=True)
        self._url_file.write_text(self.url + "\n")

    async def stop(self) -> None:
        """End live streams, close connections (at most a few seconds), stop serving."""
        self.ctx.closing.set()
        with contextlib.suppress(OSError):
            self._url_file.unlink()
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("control API did not stop in %.0f s; cancelled", STOP_TIMEOUT_S)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say TCP, and
    # with Nagle on, a response's body waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(f"api.host/api.port: cannot listen on {host}:{port}: "
                            f"{exc.strerror or exc}") from None
    return sock


def _local(host: str) -> str:
    """An address to reach `host` from this machine (a wildcard means loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
