"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import pg_server, store, url
from tests.support.mosquitto import broker
from tests.support.processes import EngineProcess

# The store's databases and a broker, for every package.
__all__ = ["broker", "pg_server", "store", "url"]


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[type[EngineProcess] | object]:
    """Start engines in subprocesses; all are stopped after the test."""
    started: list[EngineProcess] = []

    def make(settings: dict[str, object] | None = None, name: str = "engine") -> EngineProcess:
        engine = EngineProcess(tmp_path / name, settings)  # type: ignore[arg-type]
        started.append(engine)
        return engine.start()

    yield make
    for engine in started:
        engine.stop()


@pytest.fixture
def engine(engine_factory: object) -> EngineProcess:
    """One engine with default test settings."""
    return engine_factory()  # type: ignore[operator, no-any-return]
