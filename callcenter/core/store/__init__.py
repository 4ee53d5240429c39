"""The kernel's store: call detail records and call events, SQLite or PostgreSQL.

    store = Store("sqlite:///data/callcenter.db")  # or postgresql+psycopg://...
    store.migrate()
    store.call_started(info, node="node-1")

Use `AsyncStore(store)` from asyncio code. Only records (`CallRecord`,
`EventRecord`) and `StoreError` come out; ORM classes stay inside.
"""

from callcenter.core.store.records import CallRecord, EventRecord
from callcenter.core.store.store import AsyncStore, Store, alembic_config

__all__ = ["AsyncStore", "CallRecord", "EventRecord", "Store", "alembic_config"]
