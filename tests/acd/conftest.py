"""The store fixtures of tests/core/test_store.py: SQLite, and a throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callcenter.core.store import Store
from tests.core.test_store import pg_server, url  # noqa: F401  (fixtures)


@pytest.fixture
def store(url: str) -> Iterator[Store]:  # noqa: F811
    """A migrated store on an empty database of each kind."""
    s = Store(url)
    s.migrate()
    yield s
    s.close()
