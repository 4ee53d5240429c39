"""The API server on an asyncio loop: bound port, URL file, latency, a taken port."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from callcenter.api.context import ApiContext
from callcenter.api.server import ApiServer, url_file
from callcenter.core.errors import SettingsError
from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.settings import ApiSettings
from callcenter.core.store import AsyncStore, Store


def _server(tmp_path: Path, port: int = 0) -> ApiServer:
    store = Store(f"sqlite:///{tmp_path / 'cc.db'}")
    store.migrate()
    ctx = ApiContext(node="n1", store=AsyncStore(store), bus=InProcessEventBus())
    return ApiServer(ApiSettings(port=port), ctx, data_dir=tmp_path, node="n1")


async def test_the_server_writes_its_url_answers_quickly_and_cleans_up(tmp_path: Path) -> None:
    server = _server(tmp_path)
    url = await server.start()
    try:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert url_file(tmp_path, "n1").read_text().strip() == url
        async with httpx.AsyncClient(base_url=url) as client:
            took = []
            for _ in range(20):
                started = time.perf_counter()
                answer = await client.get("/v1/me")
                took.append(time.perf_counter() - started)
                assert answer.status_code == 401
        # Nagle off: a keep-alive answer does not wait for the client's delayed ACK (~40 ms).
        assert sorted(took)[10] < 0.030, took
    finally:
        await server.stop()
    assert not url_file(tmp_path, "n1").exists()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(url + "/v1/me")
    await server.ctx.store.close()


async def test_a_taken_port_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    server = _server(tmp_path, port)
    try:
        with pytest.raises(SettingsError, match=f"api.host/api.port: cannot listen on "
                                                f"127.0.0.1:{port}"):
            await server.start()
    finally:
        taken.close()
        await server.stop()
        await server.ctx.store.close()
    assert not asyncio.all_tasks() - {asyncio.current_task()}
