"""The kernel's store: call detail records, call events, call transcripts and
business records, SQLite or PostgreSQL.

    store = Store("sqlite:///data/callcenter.db")  # or postgresql+psycopg://...
    store.migrate()
    store.call_started(info, node="node-1")

    store.add_turn(call_id, TurnInput("caller", "I'd like to move my appointment", at))
    store.update_record("appointment", "+15551230001", {"time": "10:30"})

`store.nodes` is the registry of nodes sharing the store (unique names,
heartbeats); `store.acd` the human queue's agents, agent states, queue
entries and callbacks; `store.dnc` the internal do-not-call list, its audit
trail and callees' consents; `store.api_users` the control API's users
(roles, token hashes). Use `AsyncStore(store)` from asyncio code. Only records
(`CallRecord`, `EventRecord`, `TurnRecord`, ...), plain dicts and
`StoreError` come out; ORM classes stay inside.
"""

from callcenter.core.store.acd_tables import AcdTables, AsyncAcdTables
from callcenter.core.store.api_users import API_ROLES, ApiUserRecord, ApiUsers
from callcenter.core.store.async_store import AsyncStore
from callcenter.core.store.campaign_records import (
    ATTEMPT_OUTCOMES,
    CAMPAIGN_STATES,
    AttemptRecord,
    CampaignRecord,
    ContactInput,
    ContactRecord,
)
from callcenter.core.store.campaign_tables import AsyncCampaignTables, CampaignTables
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
    AGENT_STATES,
    CALLBACK_REASONS,
    CALLBACK_STATUSES,
    QUEUE_LIMITS,
    QUEUE_OUTCOMES,
    SPEAKERS,
    AgentInput,
    AgentRecord,
    AgentStateRecord,
    CallbackRecord,
    CallRecord,
    EventRecord,
    QueueEntryRecord,
    TurnInput,
    TurnRecord,
)
from callcenter.core.store.store import Store, alembic_config

__all__ = [
    "API_ROLES",
    "AGENT_STATES",
    "ATTEMPT_OUTCOMES",
    "CALLBACK_REASONS",
    "CALLBACK_STATUSES",
    "CAMPAIGN_STATES",
    "CONSENT_KINDS",
    "DNC_SOURCES",
    "QUEUE_LIMITS",
    "QUEUE_OUTCOMES",
    "SPEAKERS",
    "AcdTables",
    "AgentInput",
    "AgentRecord",
    "AgentStateRecord",
    "ApiUserRecord",
    "ApiUsers",
    "AsyncAcdTables",
    "AsyncCampaignTables",
    "AttemptRecord",
    "AsyncStore",
    "CallRecord",
    "CallbackRecord",
    "CampaignRecord",
    "CampaignTables",
    "ConsentRecord",
    "ContactInput",
    "ContactRecord",
    "DncAuditEntry",
    "DncLists",
    "EventRecord",
    "InternalDncEntry",
    "NodeRecord",
    "NodeTable",
    "QueueEntryRecord",
    "Store",
    "TurnInput",
    "TurnRecord",
    "alembic_config",
]
