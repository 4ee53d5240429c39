"""The store against real databases: an SQLite file and a throwaway PostgreSQL server.

The PostgreSQL server is started once per session from the Debian package
`postgresql` (initdb + pg_ctl in a temporary folder); each test gets a new
database on it. Without the package the PostgreSQL cases fail, not skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from callcenter.core.call import CallInfo, Direction, EndReason, new_call_id
from callcenter.core.errors import StoreError
from callcenter.core.store import AsyncStore, CallRecord, Store
from callcenter.core.store.models import Base

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found: install Debian package postgresql")


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for this session; yields its admin URL (user postgres)."""
    bindir = _pg_bin()
    # The server refuses to run as root: run it as the `postgres` user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp dir: the `postgres` user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="cc-pg-"))
    data, log = root / "data", root / "server.log"
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    except subprocess.CalledProcessError:
        print(log.read_text() if log.exists() else "no server log")
        raise
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'not-yet' / 'callcenter.db'}"
        return
    server: str = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"{server}/{name}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """A migrated store on an empty database."""
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def _info(at: datetime = T0, direction: Direction = Direction.INBOUND) -> CallInfo:
    return CallInfo(
        call_id=new_call_id(),
        direction=direction,
        from_uri="sip:+15551230000@trunk.example",
        to_uri="sip:100@engine.example",
        sip_call_id="abc@10.0.0.1",
        started_at=at,
    )


def test_migrate_twice_and_schema_matches_models(store: Store, url: str) -> None:
    store.migrate()
    again = Store(url)
    again.migrate()
    again.close()
    with store.engine.connect() as conn:
        assert {"calls", "call_events", "alembic_version"} <= set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        # The initial revision creates exactly what the models describe.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


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
