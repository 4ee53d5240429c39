"""The API app over a real store, a real event bus and the shipped agents and
queues, on FastAPI's test client (no engine, no SIP): auth, roles, schemas."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.acd_service import AcdService, load_acd
from callcenter.api.app import create_app
from callcenter.api.context import ApiContext
from callcenter.api.tokens import new_token, token_hash
from callcenter.call_journal import CallJournal
from callcenter.call_registry import CallRegistry
from callcenter.core.call import utcnow
from callcenter.core.event_bus import InProcessEventBus
from callcenter.core.settings import load_settings
from callcenter.core.store import AsyncStore, Store
from callcenter.monitoring import CallNotFound, ModeNotPossible, MonitorInfo, MonitorMode


class FakeSupervision:
    """Listening in as scripted: call "c0ffee..." exists, whisper needs an agent."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def start(self, call_id: str, mode: MonitorMode, *, supervisor: str,
                    phone: str | None) -> MonitorInfo:
        if not "c0ffee00".startswith(call_id[:8]) or not call_id:
            raise CallNotFound(f"no live call {call_id!r} on node n1")
        if mode is MonitorMode.WHISPER:
            raise ModeNotPossible("call c0ffee00 has no agent to whisper to")
        self.started.append({"call_id": call_id, "supervisor": supervisor, "phone": phone})
        return MonitorInfo(monitor_id="m1", call_id="c0ffee00", supervisor=supervisor,
                           mode=mode, via="phone" if phone else "session", phone=phone,
                           state="joined", started_at=utcnow())

    async def change_mode(self, monitor_id: str, mode: MonitorMode) -> MonitorInfo:
        raise NotImplementedError

    async def stop(self, monitor_id: str) -> MonitorInfo:
        from callcenter.monitoring import MonitorNotFound

        raise MonitorNotFound(f"no active monitor {monitor_id!r}")

    def active(self) -> list[MonitorInfo]:
        return []


@dataclass
class Api:
    """A test client and a token per role."""

    client: TestClient
    tokens: dict[str, str]
    supervision: FakeSupervision
    store: Store
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, as_user: str | None = None) -> Any:
        return self.client.get(path, headers=self.auth(as_user))

    def auth(self, as_user: str | None) -> dict[str, str]:
        return {} if as_user is None else {"Authorization": f"Bearer {self.tokens[as_user]}"}


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store, migrated once: each test starts from a copy."""
    path = tmp_path_factory.mktemp("api-store") / "callcenter.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def api(tmp_path: Path, migrated: Path) -> Iterator[Api]:
    settings = load_settings(overrides={"node.data_dir": tmp_path})
    shutil.copy(migrated, tmp_path / "callcenter.db")
    store = Store(settings.store_url)
    tokens = {}
    for name, role, agent in [("boss", "admin", None), ("ana", "supervisor", None),
                              ("dana", "agent", "1001")]:
        tokens[name] = new_token()
        store.api_users.add(name, role, token_hash(tokens[name]), at=utcnow(), agent_id=agent)
    async_store = AsyncStore(store)
    bus = InProcessEventBus()
    # Never started: what it is given to store and publish waits, unused.
    journal = CallJournal(async_store, bus, "n1")
    acd = AcdService(load_acd(settings.acd), settings, async_store, journal,
                     None, "n1")  # type: ignore[arg-type]
    supervision = FakeSupervision()
    ctx = ApiContext(node="n1", store=async_store, bus=bus, acd=acd,
                     calls=CallRegistry("n1"), supervision=supervision)
    with TestClient(create_app(ctx)) as client:
        yield Api(client, tokens, supervision, store)
    asyncio.run(async_store.close())
