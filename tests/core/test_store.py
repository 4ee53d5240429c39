"""The store against real databases: an SQLite file and a throwaway PostgreSQL server.

Covers the migrations (from empty, and from 0001 with data in it), the call
detail records and events, the transcripts (turns) and the business records.

The databases are tests/support/databases.py's fixtures: the PostgreSQL
server is started once per session; each test gets a new database on it.
"""

from __future__ import annotations

import asyncio
import enum
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from callcenter.core.call import CallInfo, Direction, EndReason, new_call_id
from callcenter.core.errors import StoreError
from callcenter.core.store import (
    AsyncStore,
    CallRecord,
    NodeRecord,
    Store,
    TurnInput,
    TurnRecord,
    alembic_config,
)
from callcenter.core.store.models import Base

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _info(
    at: datetime = T0, direction: Direction = Direction.INBOUND, call_id: str | None = None
) -> CallInfo:
    return CallInfo(
        call_id=call_id or new_call_id(),
        direction=direction,
        from_uri="sip:+15551230000@trunk.example",
        to_uri="sip:100@engine.example",
        sip_call_id="abc@10.0.0.1",
        started_at=at,
    )


def _version(store: Store) -> str | None:
    with store.engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        version: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return version


def _tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_migrate_twice_and_schema_matches_models(store: Store, url: str) -> None:
    store.migrate()
    again = Store(url)
    again.migrate()
    again.close()
    # One line of revisions, whatever its length: two heads would mean two
    # features migrated from the same parent and neither runs after the other.
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
    assert {"calls", "call_events", "turns", "records", "nodes",
            "alembic_version"} <= _tables(store)
    assert _version(store) == HEAD
    with store.engine.connect() as conn:
        # The revisions up to head create exactly what the models describe.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrading_from_0001_loses_nothing_already_stored(url: str) -> None:
    s = Store(url)  # creates the SQLite folder
    command.upgrade(alembic_config(url), "0001")
    assert _version(s) == "0001" and "turns" not in _tables(s)
    infos = [_info(T0 + timedelta(seconds=i)) for i in range(3)]
    for info in infos:
        s.call_started(info, node="old")
        s.add_event(info.call_id, "dtmf", {"digit": "1"}, info.started_at)
    s.call_answered(infos[0].call_id, T0 + timedelta(seconds=1), "PCMU")
    s.recording_finished(infos[0].call_id, "/r.wav", "c" * 64, 3.5, complete=True)
    s.call_ended(infos[0].call_id, T0 + timedelta(seconds=9), EndReason.CALLER_HANGUP, 200)
    calls = {i.call_id: s.get_call(i.call_id) for i in infos}
    events = {i.call_id: s.events_for(i.call_id) for i in infos}

    s.migrate()
    assert _version(s) == HEAD and {"turns", "records"} <= _tables(s)
    assert {i.call_id: s.get_call(i.call_id) for i in infos} == calls
    assert {i.call_id: s.events_for(i.call_id) for i in infos} == events
    s.add_turn(infos[0].call_id, TurnInput("engine", "Hello", T0))
    s.put_record("appointment", "+15551230001", {"time": "10:00"})

    # And back down to 0001 and up again: the calls stay, the new tables go and return.
    command.downgrade(alembic_config(url), "0001")
    assert _version(s) == "0001" and not {"turns", "records"} & _tables(s)
    assert {i.call_id: s.get_call(i.call_id) for i in infos} == calls
    s.migrate()
    assert s.turns_for(infos[0].call_id) == [] and s.records("appointment") == []
    assert {i.call_id: s.events_for(i.call_id) for i in infos} == events
    s.close()


def test_cdr_lifecycle_round_trips_in_utc(store: Store) -> None:
    info = _info(direction=Direction.OUTBOUND)
    plus2 = timezone(timedelta(hours=2))
    answered = (T0 + timedelta(seconds=3)).astimezone(plus2)
    ended = T0 + timedelta(seconds=42.5)

    store.call_started(info, node="node-a")
    store.call_answered(info.call_id, answered, codec="PCMU/8000")
    store.recording_started(info.call_id, "/rec/x.wav")
    store.recording_finished(info.call_id, "/rec/x.wav", "ab" * 32, 39.5, complete=True)
    store.call_ended(info.call_id, ended, EndReason.CALLER_HANGUP, 200)

    record = store.get_call(info.call_id)
    assert record == CallRecord(
        id=info.call_id,
        node="node-a",
        direction=Direction.OUTBOUND,
        from_uri=info.from_uri,
        to_uri=info.to_uri,
        sip_call_id=info.sip_call_id,
        started_at=T0,
        answered_at=answered,
        ended_at=ended,
        end_reason=EndReason.CALLER_HANGUP,
        sip_code=200,
        codec="PCMU/8000",
        recording_path="/rec/x.wav",
        recording_sha256="ab" * 32,
        recording_complete=True,
        recording_seconds=39.5,
    )
    for value in (record.started_at, record.answered_at, record.ended_at):
        assert value is not None and value.tzinfo is UTC
    assert record.duration_seconds == 42.5
    as_dict = json.loads(json.dumps(record.to_dict()))
    assert as_dict["answered_at"] == "2025-03-01T12:00:03.123456+00:00"
    assert as_dict["end_reason"] == "caller_hangup" and as_dict["direction"] == "outbound"


def test_a_new_call_has_only_its_start(store: Store) -> None:
    info = _info()
    store.call_started(info, node="n")
    record = store.get_call(info.call_id)
    assert record is not None
    assert (record.answered_at, record.ended_at, record.end_reason, record.sip_code) == (
        None,
        None,
        None,
        None,
    )
    assert record.recording_complete is False and record.duration_seconds is None
    assert store.get_call(new_call_id()) is None


def test_events_come_back_oldest_first(store: Store) -> None:
    info = _info()
    store.call_started(info, node="n")
    store.add_event(info.call_id, "dtmf", {"digit": "5"}, T0 + timedelta(seconds=2))
    store.add_event(info.call_id, "answered", {}, T0 + timedelta(seconds=1))
    store.add_event(info.call_id, "said", {"text": "héllo", "n": [1, 2]}, T0 + timedelta(seconds=2))
    events = store.events_for(info.call_id)
    assert [(e.kind, e.at) for e in events] == [
        ("answered", T0 + timedelta(seconds=1)),
        ("dtmf", T0 + timedelta(seconds=2)),
        ("said", T0 + timedelta(seconds=2)),
    ]
    assert events[2].data == {"text": "héllo", "n": [1, 2]}
    assert all(e.at.tzinfo is UTC and e.call_id == info.call_id for e in events)
    assert json.loads(json.dumps(events[0].to_dict()))["at"] == "2025-03-01T12:00:01.123456+00:00"
    assert store.events_for(new_call_id()) == []


def test_recent_calls_newest_first(store: Store) -> None:
    infos = [_info(T0 + timedelta(minutes=m)) for m in (5, 1, 9, 3)]
    for info in infos:
        store.call_started(info, node="n")
    newest = [r.started_at for r in store.recent_calls(limit=3)]
    assert newest == [T0 + timedelta(minutes=m) for m in (9, 5, 3)]
    assert len(store.recent_calls()) == 4
    with pytest.raises(ValueError):
        store.recent_calls(limit=0)


def test_unfinished_calls_and_mark_incomplete(store: Store) -> None:
    lost, done, other_node = _info(T0), _info(T0 + timedelta(seconds=1)), _info(T0)
    for info, node in ((lost, "a"), (done, "a"), (other_node, "b")):
        store.call_started(info, node=node)
    store.call_ended(done.call_id, T0 + timedelta(seconds=9), EndReason.ENGINE_HANGUP, None)

    assert [r.id for r in store.unfinished_calls("a")] == [lost.call_id]
    store.mark_incomplete(lost.call_id, T0 + timedelta(minutes=1))
    store.mark_incomplete(done.call_id, T0 + timedelta(minutes=1))  # already ended: unchanged

    assert store.unfinished_calls("a") == []
    assert [r.id for r in store.unfinished_calls("b")] == [other_node.call_id]
    record, finished = store.get_call(lost.call_id), store.get_call(done.call_id)
    assert record is not None and finished is not None
    assert (record.end_reason, record.ended_at) == (EndReason.INCOMPLETE, T0 + timedelta(minutes=1))
    assert finished.end_reason == EndReason.ENGINE_HANGUP


@pytest.mark.parametrize(
    "update",
    [
        lambda s, cid: s.call_answered(cid, T0, "PCMU"),
        lambda s, cid: s.call_ended(cid, T0, EndReason.BUSY, 486),
        lambda s, cid: s.recording_started(cid, "/x.wav"),
        lambda s, cid: s.recording_finished(cid, "/x.wav", "0" * 64, 1.0, False),
        lambda s, cid: s.add_event(cid, "dtmf", {}, T0),
        lambda s, cid: s.mark_incomplete(cid, T0),
    ],
    ids=["answered", "ended", "rec_started", "rec_finished", "event", "incomplete"],
)
def test_unknown_call_id_is_a_store_error_naming_it(
    store: Store, update: Callable[[Store, str], object]
) -> None:
    call_id = new_call_id()
    with pytest.raises(StoreError, match=call_id) as caught:
        update(store, call_id)
    assert caught.value.retryable is False


def test_database_refusals_become_store_errors(store: Store) -> None:
    info = _info()
    store.call_started(info, node="n")
    with pytest.raises(StoreError, match=info.call_id) as caught:
        store.call_started(info, node="n")  # duplicate id
    assert caught.value.retryable is False
    with pytest.raises(StoreError, match="naive"):
        store.call_answered(info.call_id, datetime(2025, 1, 1), None)


def test_an_unmigrated_database_is_a_store_error(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'cc.db'}")
    with pytest.raises(StoreError, match="could not read recent calls"):
        s.recent_calls()
    s.close()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'cc.db'}", busy_timeout_ms=1234)
    s.migrate()
    assert (tmp_path / "deep" / "er" / "cc.db").exists()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    s.close()


def test_sqlite_in_memory_is_shared_between_threads() -> None:
    s = Store("sqlite://")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(s.migrate).result()
    info = _info()
    s.call_started(info, node="n")
    assert s.get_call(info.call_id) is not None
    s.close()


def test_one_store_used_from_many_threads(store: Store) -> None:
    def one_call(i: int) -> str:
        info = _info(T0 + timedelta(seconds=i))
        store.call_started(info, node="n")
        store.call_answered(info.call_id, info.started_at + timedelta(seconds=1), "PCMA")
        for k in range(3):
            store.add_event(info.call_id, f"e{k}", {"i": i}, info.started_at)
        store.recent_calls(5)
        store.call_ended(info.call_id, info.started_at + timedelta(seconds=2), EndReason.BUSY, 486)
        return info.call_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(one_call, range(40)))
    assert len(store.recent_calls(limit=100)) == 40
    assert store.unfinished_calls("n") == []
    assert all(len(store.events_for(cid)) == 3 for cid in ids)


async def test_async_store_runs_on_one_worker_thread(url: str) -> None:
    astore = AsyncStore(Store(url))
    await astore.migrate()
    infos = [_info(T0 + timedelta(seconds=i)) for i in range(10)]
    await asyncio.gather(*(astore.call_started(i, "n") for i in infos))
    first = infos[0].call_id
    await astore.call_answered(first, T0, "opus")
    await astore.recording_started(first, "/r.wav")
    await astore.recording_finished(first, "/r.wav", "f" * 64, 2.0, True)
    await astore.add_event(first, "hello", {"x": 1}, T0)
    await astore.call_ended(first, T0 + timedelta(seconds=5), EndReason.TRANSFERRED, None)
    await astore.mark_incomplete(infos[1].call_id, T0 + timedelta(seconds=9))

    record = await astore.get_call(first)
    assert record is not None and record.end_reason is EndReason.TRANSFERRED
    assert [e.kind for e in await astore.events_for(first)] == ["hello"]
    assert len(await astore.recent_calls(3)) == 3
    assert len(await astore.unfinished_calls("n")) == 8
    with pytest.raises(StoreError):
        await astore.call_answered(new_call_id(), T0, None)

    names = await astore._run(lambda: threading.current_thread().name)
    assert names.startswith("store")
    await astore.close()


# --- transcripts -------------------------------------------------------------


class _Who(enum.StrEnum):
    AGENT = "agent"


def test_turns_round_trip_numbered_from_zero(store: Store) -> None:
    info, other = _info(), _info()
    store.call_started(info, node="n")
    store.call_started(other, node="n")
    plus2 = timezone(timedelta(hours=2))
    store.add_turn(
        info.call_id,
        TurnInput("engine", "Hello, how can I help?", T0, T0 + timedelta(seconds=2), state="greet"),
    )
    store.add_turn(other.call_id, TurnInput("caller", "hi", T0))
    store.add_turn(
        info.call_id,
        TurnInput(
            speaker="caller",
            text="move my appointment",
            started_at=(T0 + timedelta(seconds=3)).astimezone(plus2),
            ended_at=(T0 + timedelta(seconds=5)).astimezone(plus2),
            confidence=0.87,
            intent="reschedule",
            state="greet",
            data={"latency_ms": 412, "slots": {"day": "tuesday"}},
        ),
    )
    store.add_turn(info.call_id, TurnInput(_Who.AGENT, "5", T0 + timedelta(seconds=6)))

    turns = store.turns_for(info.call_id)
    assert [(t.seq, t.speaker, t.text) for t in turns] == [
        (0, "engine", "Hello, how can I help?"),
        (1, "caller", "move my appointment"),
        (2, "agent", "5"),
    ]
    assert turns[1] == TurnRecord(
        id=turns[1].id,
        call_id=info.call_id,
        seq=1,
        speaker="caller",
        text="move my appointment",
        started_at=T0 + timedelta(seconds=3),
        ended_at=T0 + timedelta(seconds=5),
        confidence=0.87,
        intent="reschedule",
        state="greet",
        data={"latency_ms": 412, "slots": {"day": "tuesday"}},
    )
    assert turns[1].started_at.tzinfo is UTC
    assert (turns[2].ended_at, turns[2].confidence, turns[2].intent, turns[2].state) == (
        None,
        None,
        None,
        None,
    )
    assert turns[2].data == {}
    as_dict = json.loads(json.dumps(turns[1].to_dict()))
    assert as_dict["started_at"] == "2025-03-01T12:00:03.123456+00:00"
    assert as_dict["seq"] == 1 and as_dict["data"]["slots"] == {"day": "tuesday"}
    turns[1].data["latency_ms"] = 0  # a private copy
    assert store.turns_for(info.call_id)[1].data["latency_ms"] == 412
    assert [t.seq for t in store.turns_for(other.call_id)] == [0]
    assert store.turns_for(new_call_id()) == []


def test_add_turn_refusals_are_store_errors(store: Store) -> None:
    info = _info()
    store.call_started(info, node="n")
    unknown = new_call_id()
    refused = [
        (unknown, TurnInput("caller", "x", T0), unknown),
        (info.call_id, TurnInput("robot", "x", T0), "robot"),
        (info.call_id, TurnInput("caller", "x", datetime(2025, 1, 1)), "naive"),
        (info.call_id, TurnInput("caller", "x", T0, datetime(2025, 1, 1)), "ended_at"),
    ]
    for call_id, turn, named in refused:
        with pytest.raises(StoreError, match=named) as caught:
            store.add_turn(call_id, turn)
        assert caught.value.retryable is False
    assert store.turns_for(info.call_id) == []


def test_turns_added_at_once_get_distinct_numbers(store: Store) -> None:
    calls = [_info(), _info()]
    for info in calls:
        store.call_started(info, node="n")

    def add(i: int) -> None:
        call_id = calls[i % 2].call_id
        store.add_turn(call_id, TurnInput("caller", f"t{i}", T0 + timedelta(seconds=i)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(60)))
    for info in calls:
        turns = store.turns_for(info.call_id)
        assert [t.seq for t in turns] == list(range(30))
        assert len({t.text for t in turns}) == 30


def test_turns_go_with_their_call(store: Store) -> None:
    info, kept = _info(), _info()
    for i in (info, kept):
        store.call_started(i, node="n")
        store.add_turn(i.call_id, TurnInput("engine", "hello", T0))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM calls WHERE id = :id"), {"id": info.call_id})
    assert store.turns_for(info.call_id) == []
    assert len(store.turns_for(kept.call_id)) == 1


def test_find_calls_by_id_prefix_newest_first(store: Store) -> None:
    ids = {
        "abc1" + "0" * 28: T0,
        "abc2" + "0" * 28: T0 + timedelta(minutes=2),
        "abd0" + "0" * 28: T0 + timedelta(minutes=1),
        "Abc3" + "0" * 28: T0 + timedelta(minutes=3),
        "a_c%" + "0" * 28: T0 + timedelta(minutes=4),
    }
    for call_id, at in ids.items():
        store.call_started(_info(at, call_id=call_id), node="n")
    assert [r.id[:4] for r in store.find_calls("abc")] == ["abc2", "abc1"]
    assert [r.id[:4] for r in store.find_calls("ab")] == ["abc2", "abd0", "abc1"]
    assert [r.id[:4] for r in store.find_calls("ab", limit=1)] == ["abc2"]
    assert [r.id for r in store.find_calls("abd0" + "0" * 28)] == ["abd0" + "0" * 28]
    assert [r.id[:4] for r in store.find_calls("A")] == ["Abc3"]  # case counts
    assert [r.id[:4] for r in store.find_calls("a_")] == ["a_c%"]  # no wildcards
    assert [r.id[:4] for r in store.find_calls("a_c%")] == ["a_c%"]
    assert store.find_calls("abe") == [] and store.find_calls("abc1" + "0" * 29) == []
    with pytest.raises(ValueError):
        store.find_calls("")
    with pytest.raises(ValueError):
        store.find_calls("a", limit=0)


# --- business records --------------------------------------------------------


def test_records_put_get_update_and_list(store: Store) -> None:
    phone = "+15551230001"
    assert store.get_record("appointment", phone) is None
    store.put_record("appointment", phone, {"day": "tuesday", "time": "10:00", "who": {"n": 1}})
    store.put_record("appointment", "+15551230000", {"day": "monday"})
    store.put_record("account", phone, {"balance": 12.5})

    merged = store.update_record("appointment", phone, {"time": "10:30", "confirmed": True})
    expected = {"day": "tuesday", "time": "10:30", "who": {"n": 1}, "confirmed": True}
    assert merged == expected
    assert store.get_record("appointment", phone) == expected
    merged["who"]["n"] = 99  # private copies
    got = store.get_record("appointment", phone)
    assert got is not None
    got["day"] = "sunday"
    assert store.get_record("appointment", phone) == expected

    assert store.records("appointment") == [("+15551230000", {"day": "monday"}), (phone, expected)]
    assert store.records("account") == [(phone, {"balance": 12.5})]
    assert store.records("nothing") == []

    store.put_record("appointment", phone, {"cancelled": True})  # put replaces
    assert store.get_record("appointment", phone) == {"cancelled": True}
    assert store.get_record("account", phone) == {"balance": 12.5}
    assert json.loads(json.dumps(store.records("appointment")))[1] == [phone, {"cancelled": True}]


def test_updating_a_missing_record_is_a_store_error_naming_it(store: Store) -> None:
    store.put_record("account", "+15551230001", {"x": 1})
    with pytest.raises(StoreError, match=r"'appointment'.*'\+15551230001'") as caught:
        store.update_record("appointment", "+15551230001", {"time": "10:30"})
    assert caught.value.retryable is False
    assert store.get_record("appointment", "+15551230001") is None
    assert store.records("appointment") == []


def test_records_written_at_once_lose_nothing(store: Store) -> None:
    store.put_record("counter", "k", {})

    def write(i: int) -> None:
        store.update_record("counter", "k", {f"f{i}": i})
        store.put_record("fresh", "same-key", {"by": i})  # all create the same record

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))
    assert store.get_record("counter", "k") == {f"f{i}": i for i in range(40)}
    fresh = store.records("fresh")
    assert len(fresh) == 1 and fresh[0][0] == "same-key"


async def test_async_store_turns_records_and_find(url: str) -> None:
    astore = AsyncStore(Store(url))
    await astore.migrate()
    info = _info()
    await astore.call_started(info, "n")
    await asyncio.gather(
        *(astore.add_turn(info.call_id, TurnInput("caller", f"t{i}", T0)) for i in range(5))
    )
    assert [t.seq for t in await astore.turns_for(info.call_id)] == [0, 1, 2, 3, 4]
    assert [r.id for r in await astore.find_calls(info.call_id[:6])] == [info.call_id]
    await astore.put_record("appointment", "+1555", {"time": "9:00"})
    assert await astore.update_record("appointment", "+1555", {"time": "9:30"}) == {"time": "9:30"}
    assert await astore.get_record("appointment", "+1555") == {"time": "9:30"}
    assert await astore.records("appointment") == [("+1555", {"time": "9:30"})]
    with pytest.raises(StoreError, match="nobody"):
        await astore.update_record("appointment", "nobody", {})
    await astore.close()


def test_node_names_are_claimed_once_and_heartbeats_need_the_holder(store: Store) -> None:
    node = NodeRecord(name="n1", host="h", sip_port=5060, pid=10, instance="a" * 32,
                      started_at=T0, heartbeat_at=T0)
    assert store.nodes.claim(node, lambda holder: False) is None
    other = NodeRecord(name="n1", host="h2", sip_port=5070, pid=11, instance="b" * 32,
                       started_at=T0, heartbeat_at=T0)
    assert store.nodes.claim(other, lambda holder: False) == node  # live: refused
    assert store.nodes.heartbeat("n1", "a" * 32, T0 + timedelta(seconds=5))
    assert store.nodes.claim(other, lambda holder: True) is None  # gone: taken over
    assert not store.nodes.heartbeat("n1", "a" * 32, T0 + timedelta(seconds=9))
    store.nodes.stopped("n1", "b" * 32, T0 + timedelta(seconds=10))
    stopped = store.nodes.get("n1")
    assert stopped is not None and stopped.stopped_at == T0 + timedelta(seconds=10)
    assert store.nodes.claim(node, lambda holder: False) is None  # a clean stop frees it
    gone = NodeRecord(name="n2", host="h", sip_port=5080, pid=12, instance="c" * 32,
                      started_at=T0, heartbeat_at=T0)
    store.nodes.claim(gone, lambda holder: False)
    retired = store.nodes.retire_gone("h", lambda n: n.name == "n2", T0)
    assert [n.name for n in retired] == ["n2"]
    assert store.nodes.retire_gone("h", lambda n: n.name == "n2", T0) == []
    assert [n.name for n in store.nodes.all()] == ["n1", "n2"]
