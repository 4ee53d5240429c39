"""The kernel's store: call detail records, call events, call transcripts and
business records, SQLite or PostgreSQL.

    store = Store("sqlite:///data/callcenter.db")  # or postgresql+psycopg://...
    store.migrate()
    store.call_started(info, node="node-1")

    store.add_turn(call_id, TurnInput("caller", "I'd like to move my appointment", at))
    store.update_record("appointment", "+15551230001", {"time": "10:30"})

`store.nodes` is the registry of nodes sharing the store (unique names,
heartbeats); `store.dnc` the internal do-not-call list, its audit trail and
callees' consents. Use `AsyncStore(store)` from asyncio code. Only records
(`CallRecord`, `EventRecord`, `TurnRecord`, ...), plain dicts and
`StoreError` come out; ORM classes stay inside.
"""

from callcenter.core.store.dnc_lists import (
    CONSENT_KINDS,
    DNC_SOURCES,
    ConsentRecord,
    DncAuditEntry,
    DncLists,
    InternalDncEntry,
)
from callcenter.core.store.nodes import NodeRecord, NodeTable
from callcenter.core.store.records import (
    SPEAKERS,
    CallRecord,
    EventRecord,
    TurnInput,
    TurnRecord,
)
from callcenter.core.store.store import AsyncStore, Store, alembic_config

__all__ = [
    "CONSENT_KINDS",
    "DNC_SOURCES",
    "SPEAKERS",
    "AsyncStore",
    "CallRecord",
    "ConsentRecord",
    "DncAuditEntry",
    "DncLists",
    "EventRecord",
    "InternalDncEntry",
    "NodeRecord",
    "NodeTable",
    "Store",
    "TurnInput",
    "TurnRecord",
    "alembic_config",
]
