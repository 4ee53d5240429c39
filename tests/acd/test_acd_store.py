"""The ACD's tables on SQLite and PostgreSQL: agents, state changes, queue entries, callbacks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from acd.agent_state import AgentState
from acd.agent_sync import agent_inputs, sync_agents
from acd.agents_config import AgentsConfig
from acd.pins import verify_pin
from acd.queue_model import CallbackReason, CallQueue, Limit, Outcome
from callcenter.core.errors import StoreError
from callcenter.core.store import (
    AGENT_STATES,
    CALLBACK_REASONS,
    QUEUE_LIMITS,
    QUEUE_OUTCOMES,
    AgentInput,
    AsyncStore,
    Store,
    alembic_config,
)
from callcenter.core.store.models import Base

T0 = datetime(2025, 6, 2, 9, 0, 0, 250000, tzinfo=UTC)
ACD_TABLES = {"agents", "agent_state_changes", "queue_entries", "callbacks"}


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _agents(*ids: str) -> list[AgentInput]:
    return [AgentInput(id=i, name=f"Agent {i}", pin_hash=f"hash-{i}", skills={"billing": 3})
            for i in ids]


def test_the_acd_values_are_the_stores() -> None:
    assert tuple(AgentState) == AGENT_STATES
    assert tuple(Outcome) == QUEUE_OUTCOMES
    assert tuple(Limit) == QUEUE_LIMITS
    assert tuple(CallbackReason) == CALLBACK_REASONS


def test_one_head_and_the_schema_matches_the_models(store: Store) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    with store.engine.connect() as conn:
        tables = set(conn.dialect.get_table_names(conn))
        assert tables >= ACD_TABLES
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_the_acd_migration_goes_down_and_up_again(url: str) -> None:
    store = Store(url)
    store.migrate()
    store.acd.sync_agents(_agents("1001"), T0)
    cfg = alembic_config(url)
    before = ScriptDirectory.from_config(cfg).get_revision("0005").down_revision
    command.downgrade(cfg, str(before))
    with store.engine.connect() as conn:
        assert not ACD_TABLES & set(conn.dialect.get_table_names(conn))
    store.migrate()
    assert store.acd.agents() == []
    store.close()


def test_agents_are_written_updated_and_deactivated(store: Store) -> None:
    store.acd.sync_agents(_agents("1001", "1002"), T0)
    first = store.acd.agents()
    assert [a.id for a in first] == ["1001", "1002"]
    assert first[0].state == "logged_out" and first[0].state_since == T0
    assert first[0].skills == {"billing": 3} and first[0].active and first[0].mode == "session"
    assert "pin_hash" not in first[0].to_dict()

    store.acd.record_state("1001", "ready", _at(5), node="n1")
    changed = AgentInput(id="1001", name="Dana", pin_hash="new", mode="on_demand",
                         phone="sip:1001@10.0.0.5", skills={"front_desk": 9})
    store.acd.sync_agents([changed, *_agents("1003")], _at(60))
    active = store.acd.agents()
    assert [a.id for a in active] == ["1001", "1003"]
    dana = active[0]
    assert (dana.name, dana.pin_hash, dana.mode, dana.phone, dana.skills) == (
        "Dana", "new", "on_demand", "sip:1001@10.0.0.5", {"front_desk": 9})
    assert (dana.state, dana.state_since, dana.state_node) == ("ready", _at(5), "n1")
    gone = store.acd.agent("1002")
    assert gone is not None and not gone.active and gone.updated_at == _at(60)
    assert len(store.acd.agents(include_inactive=True)) == 3
    store.acd.sync_agents([], _at(70))
    assert store.acd.agents() == []
    assert store.acd.agent("nope") is None


def test_agent_input_is_checked(store: Store) -> None:
    with pytest.raises(StoreError, match="given twice") as exc:
        store.acd.sync_agents(_agents("1", "1"), T0)
    assert not exc.value.retryable
    with pytest.raises(StoreError, match="agent mode"):
        store.acd.sync_agents([AgentInput(id="1", name="x", pin_hash="h", mode="robot")], T0)
    with pytest.raises(StoreError, match="naive"):
        store.acd.sync_agents(_agents("1"), datetime(2025, 1, 1))


def test_the_agents_file_reaches_the_store_with_hashed_pins(store: Store) -> None:
    config = AgentsConfig.model_validate({"agents": {
        "1001": {"name": "Dana", "pin": "4711", "skills": {"billing": 4}},
        "1002": {"name": "Sam", "pin": "2580", "mode": "on_demand", "phone": "sip:s@h"}}})
    sync_agents(store, config, T0)
    dana = store.acd.agent("1001")
    # Random hex salt and digest may contain "4711" by chance: check no field is the PIN.
    assert dana is not None and "4711" not in dana.pin_hash.split("$")
    assert dana.pin_hash.startswith("scrypt$")
    assert verify_pin(dana.pin_hash, "4711") and not verify_pin(dana.pin_hash, "4712")
    sync_agents(store, config, _at(1))  # unchanged PIN: the same hash is kept
    again = store.acd.agent("1001")
    assert again is not None and again.pin_hash == dana.pin_hash
    inputs = agent_inputs(config.agents, {"1001": dana.pin_hash, "1002": "stale"})
    assert inputs[0].pin_hash == dana.pin_hash and verify_pin(inputs[1].pin_hash, "2580")


def test_state_changes_are_history_and_current_state(store: Store) -> None:
    store.acd.sync_agents(_agents("1001", "1002"), T0)
    plus2 = timezone(timedelta(hours=2))
    store.acd.record_state("1001", "not_ready", _at(1), reason="logged_in", node="n1")
    store.acd.record_state("1001", "ready", _at(2).astimezone(plus2), node="n1")
    store.acd.record_state("1002", AgentState.READY, _at(3))
    store.acd.record_state("1001", "offered", _at(4), call_id="c1", node="n1")
    history = store.acd.state_changes("1001")
    assert [(h.state, h.reason, h.at, h.call_id) for h in history] == [
        ("not_ready", "logged_in", _at(1), None), ("ready", None, _at(2), None),
        ("offered", None, _at(4), "c1")]
    assert all(h.at.tzinfo is UTC for h in history)
    agent = store.acd.agent("1001")
    assert agent is not None and (agent.state, agent.state_since) == ("offered", _at(4))
    assert [h.agent_id for h in store.acd.state_changes(since=_at(2), until=_at(4))] == [
        "1001", "1002"]
    assert len(store.acd.state_changes(limit=2)) == 2
    with pytest.raises(StoreError, match="unknown agent"):
        store.acd.record_state("9999", "ready", T0)
    with pytest.raises(StoreError, match="unknown agent state 'busy'"):
        store.acd.record_state("1001", "busy", T0)


def test_queue_entries_record_outcome_and_wait(store: Store) -> None:
    store.acd.sync_agents(_agents("1001"), T0)
    queue = CallQueue("front-desk", max_length=1)
    queue.join("c1", T0, priority=10, number="+15550001")
    first = store.acd.open_entry("c1", "front-desk", 10, T0, caller="+15550001", node="n1")
    # The next caller finds the queue full: an entry that opens and closes at once.
    refused = queue.refuse("c2", _at(3), "goodbye")
    second = store.acd.open_entry("c2", "front-desk", 0, refused.entered_at)
    store.acd.close_entry(second, refused.left_at, refused.outcome, limit=refused.limit)
    assert [e.call_id for e in store.acd.open_entries()] == ["c1"]
    assert store.acd.open_entries(node="other") == []

    left = queue.answered("c1", "1001", _at(42.5))
    closed = store.acd.close_entry(first, left.left_at, left.outcome, agent_id=left.agent_id)
    assert (closed.outcome, closed.wait_s, closed.agent_id, closed.left_at) == (
        "answered", 42.5, "1001", _at(42.5))
    store.acd.set_handle_time(first, 180.0)
    entry = store.acd.entry(first)
    assert entry is not None and entry.handle_s == 180.0 and entry.caller == "+15550001"
    full = store.acd.entry(second)
    assert full is not None and (full.outcome, full.limit_hit, full.wait_s) == (
        "full", "max_length", 0.0)
    assert store.acd.open_entries() == []
    with pytest.raises(StoreError, match="already closed"):
        store.acd.close_entry(first, _at(50), "abandoned")
    with pytest.raises(StoreError, match="unknown queue outcome"):
        store.acd.close_entry(second, _at(50), "lost")
    with pytest.raises(StoreError, match="unknown queue limit"):
        store.acd.close_entry(second, _at(50), "timeout", limit="patience")
    with pytest.raises(StoreError, match="unknown queue entry"):
        store.acd.close_entry(999, _at(50), "abandoned")


def test_abandoned_calls_keep_their_wait_and_reports_filter(store: Store) -> None:
    for i in range(5):
        entry = store.acd.open_entry(f"c{i}", "billing" if i % 2 else "front-desk", 0, _at(i))
        store.acd.close_entry(entry, _at(i + 10 * i), "abandoned")
    billing = store.acd.entries(queue="billing")
    assert [(e.call_id, e.wait_s, e.outcome) for e in billing] == [
        ("c3", 30.0, "abandoned"), ("c1", 10.0, "abandoned")]
    assert [e.call_id for e in store.acd.entries(since=_at(1), until=_at(3))] == ["c2", "c1"]
    assert len(store.acd.entries(limit=2)) == 2


def test_recent_handle_times_oldest_first(store: Store) -> None:
    store.acd.sync_agents(_agents("1001"), T0)
    for i, handle in enumerate([100.0, 200.0, 300.0, 400.0]):
        entry = store.acd.open_entry(f"c{i}", "q", 0, _at(i))
        store.acd.close_entry(entry, _at(100 + i), "answered", agent_id="1001")
        store.acd.set_handle_time(entry, handle)
    other = store.acd.open_entry("x", "other", 0, T0)
    store.acd.close_entry(other, _at(1), "answered", agent_id="1001")
    store.acd.set_handle_time(other, 999.0)
    assert store.acd.recent_handle_times("q", limit=3) == [200.0, 300.0, 400.0]
    assert store.acd.recent_handle_times("none") == []
    with pytest.raises(StoreError, match="negative"):
        store.acd.set_handle_time(other, -1)


def test_callbacks_are_stored_claimed_once_and_finished(store: Store) -> None:
    queue = CallQueue("front-desk")
    queue.join("c1", T0, number="+15550001")
    _, request = queue.callback("c1", _at(30))
    first = store.acd.add_callback(request.number, request.queue, request.reason,
                                   request.requested_at, call_id=request.call_id)
    second = store.acd.add_callback("+15550002", "billing", "max_wait", _at(40))
    pending = store.acd.callbacks()
    assert [(c.id, c.number, c.reason, c.status, c.call_id) for c in pending] == [
        (first, "+15550001", "caller_key", "pending", "c1"),
        (second, "+15550002", "max_wait", "pending", None)]
    assert [c.id for c in store.acd.callbacks(queue="billing")] == [second]

    claimed = store.acd.claim_callback(_at(60), node="n1")
    assert claimed is not None and (claimed.id, claimed.status, claimed.node,
                                    claimed.attempts) == (first, "dialing", "n1", 1)
    store.acd.set_callback_status(first, "pending", _at(61))  # no answer: retry later
    again = store.acd.claim_callback(_at(62), node="n2", queue="front-desk")
    assert again is not None and again.id == first and again.attempts == 2
    store.acd.set_callback_status(first, "done", _at(90))
    assert [c.id for c in store.acd.callbacks(status="done")] == [first]
    assert len(store.acd.callbacks(status=None)) == 2
    with pytest.raises(StoreError, match="callback reason"):
        store.acd.add_callback("+1", "q", "bored", T0)
    with pytest.raises(StoreError, match="callback status"):
        store.acd.set_callback_status(first, "lost", T0)
    with pytest.raises(StoreError, match="needs a number"):
        store.acd.add_callback("", "q", "caller_key", T0)
    with pytest.raises(StoreError, match="unknown callback"):
        store.acd.set_callback_status(999, "done", T0)


def test_nodes_claiming_together_get_different_callbacks(store: Store) -> None:
    for i in range(8):
        store.acd.add_callback(f"+1555000{i}", "q", "caller_key", _at(i))
    barrier = threading.Barrier(4)

    def claim(node: str) -> list[int]:
        barrier.wait()
        got = []
        while (record := store.acd.claim_callback(_at(100), node=node)) is not None:
            got.append(record.id)
        return got

    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(claim, ["a", "b", "c", "d"]))
    flat = [i for ids in claims for i in ids]
    assert sorted(flat) == sorted({*flat}) and len(flat) == 8
    assert store.acd.callbacks() == []


async def test_async_store_offers_the_same(url: str) -> None:
    astore = AsyncStore(Store(url))
    await astore.migrate()
    acd = astore.acd
    await acd.sync_agents(_agents("1001"), T0)
    await acd.record_state("1001", "ready", _at(1), node="n")
    assert [a.state for a in await acd.agents()] == ["ready"]
    assert (await acd.agent("1001")) is not None
    assert len(await acd.state_changes("1001", since=T0)) == 1
    entry = await acd.open_entry("c1", "q", 0, T0, caller="+1555", node="n")
    assert [e.id for e in await acd.open_entries(node="n")] == [entry]
    closed = await acd.close_entry(entry, _at(5), "answered", agent_id="1001")
    assert closed.wait_s == 5.0
    await acd.set_handle_time(entry, 60.0)
    assert (await acd.entry(entry)) is not None
    assert len(await acd.entries(queue="q")) == 1
    assert await acd.recent_handle_times("q") == [60.0]
    cb = await acd.add_callback("+1555", "q", "caller_key", _at(6), call_id="c1")
    assert [c.id for c in await acd.callbacks()] == [cb]
    claimed = await acd.claim_callback(_at(7), node="n")
    assert claimed is not None
    await acd.set_callback_status(cb, "done", _at(8))
    assert (await acd.agents(include_inactive=True))[0].id == "1001"
    await astore.close()


def test_sqlite_file_store_keeps_rows_across_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    first = Store(url)
    first.migrate()
    first.acd.sync_agents(_agents("1001"), T0)
    first.close()
    second = Store(url)
    second.migrate()
    with second.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM agents")).scalar() == 1
    second.close()
