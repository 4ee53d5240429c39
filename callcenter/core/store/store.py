"""The store: call detail records, call events, call transcripts and business
records in SQLite (WAL) or PostgreSQL.

`Store` is synchronous and thread-safe: every method is one unit of work
with its own session, committed or rolled back before it returns. It hands
out plain records, never ORM objects, and raises only `StoreError` for what
the database refuses. `AsyncStore` (:mod:`callcenter.core.store.async_store`)
runs it for asyncio code.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Select,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from callcenter.core.call import CallInfo, EndReason
from callcenter.core.errors import StoreError
from callcenter.core.store.acd_tables import AcdTables
from callcenter.core.store.api_users import ApiUsers
from callcenter.core.store.campaign_tables import CampaignTables
from callcenter.core.store.checks import aware, refused
from callcenter.core.store.dnc_lists import DncLists
from callcenter.core.store.models import CallEventRow, CallRow, RecordRow, TurnRow
from callcenter.core.store.nodes import NodeTable
from callcenter.core.store.records import (
    SPEAKERS,
    CallRecord,
    EventRecord,
    TurnInput,
    TurnRecord,
)
from callcenter.core.store.supervision_audit import SupervisionAudit
from callcenter.core.store.voicemails import Voicemails

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Execution option asking the SQLite "begin" hook for BEGIN IMMEDIATE (see _sqlite_begin).
_IMMEDIATE = "callcenter_begin_immediate"
# Key of the PostgreSQL advisory lock that serializes migrations of nodes starting together.
_PG_MIGRATION_LOCK = 0x43434D31



def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the store's migrations, built without alembic.ini.

    With `url`, Alembic's commands can open their own connection, e.g.
    ``command.revision(alembic_config(url), "add x", autogenerate=True)``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision files must be importable module names for mypy.
    cfg.set_main_option("file_template", "rev_%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _unknown(call_id: str) -> StoreError:
    return refused(f"unknown call id {call_id!r}: no such call in the store")


def _no_record(kind: str, key: str) -> StoreError:
    return refused(f"no {kind!r} record under key {key!r} in the store")


def _record_query(kind: str, key: str) -> Select[RecordRow]:
    return select(RecordRow).where(RecordRow.kind == kind, RecordRow.key == key)


def _sqlite_begin(conn: Connection) -> None:
    # A write that starts as a read cannot wait for the lock in WAL mode (it fails
    # at once with "database is locked"), so writing units take the lock up front.
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """Call detail records and events, in one SQLite file or a PostgreSQL database.

    Safe to share between threads. Times given must be timezone-aware; times
    returned are timezone-aware UTC.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        """Create the engine for `url` (SQLAlchemy URL); for SQLite, create its folder.

        Nothing is connected yet; call `migrate()` before first use.
        """
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                "invalid store URL; expected e.g. sqlite:///data/callcenter.db "
                "or postgresql+psycopg://user:password@host/db"
            ) from exc
        self._sqlite = parsed.get_backend_name() == "sqlite"
        self._busy_timeout_ms = int(busy_timeout_ms)
        kwargs: dict[str, Any] = {}
        if self._sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
                # One shared connection, or every thread would see its own empty database.
                kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
            else:
                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder of {database}: {exc}") from exc
        else:
            kwargs = {"pool_pre_ping": True}
        try:
            self._engine: Engine = create_engine(parsed, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            hint = " (install psycopg[binary])" if parsed.get_backend_name() == "postgresql" else ""
            raise StoreError(f"no database driver for {parsed.drivername}{hint}: {exc}") from exc
        if self._sqlite:
            event.listen(self._engine, "connect", self._sqlite_connect)
            event.listen(self._engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL with the password hidden, for logs."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for tools and tests; prefer the methods."""
        return self._engine

    def _sqlite_connect(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (_sqlite_begin)
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @contextmanager
    def _unit(self, what: str, *, write: bool = False) -> Iterator[Session]:
        """One unit of work; database errors leave it as a StoreError saying `what` failed."""
        try:
            with self._sessions() as session:
                if write:
                    session.connection(execution_options={_IMMEDIATE: True})
                yield session
                if write:
                    session.commit()
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            err = StoreError(f"could not {what}: {type(exc).__name__}: {detail}")
            err.retryable = not isinstance(exc, IntegrityError)
            raise err from exc

    @staticmethod
    def _call(session: Session, call_id: str, *, lock: bool = False) -> CallRow:
        # lock: FOR NO KEY UPDATE on PostgreSQL, to serialize writers of one call's
        # children (SQLite's BEGIN IMMEDIATE already serializes every writer).
        row = session.get(CallRow, call_id, with_for_update={"key_share": True} if lock else None)
        if row is None:
            raise _unknown(call_id)
        return row

    def migrate(self) -> None:
        """Bring the schema to the newest revision (``alembic upgrade head``).

        Safe to run on every start: a database already at head is left alone,
        and on PostgreSQL nodes starting together wait for each other.
        """
        cfg = alembic_config()
        try:
            with self._engine.connect() as conn:
                if self._sqlite:
                    # Batch migrations copy and drop tables; with foreign keys on,
                    # dropping `calls` would cascade into `call_events`.
                    self._raw_sqlite(conn, "PRAGMA foreign_keys = OFF")
                try:
                    conn.execution_options(**{_IMMEDIATE: True})
                    with conn.begin():
                        if not self._sqlite:
                            conn.execute(
                                text("SELECT pg_advisory_xact_lock(:key)"),
                                {"key": _PG_MIGRATION_LOCK},
                            )
                        cfg.attributes["connection"] = conn
                        command.upgrade(cfg, "head")
                finally:
                    if self._sqlite:
                        self._raw_sqlite(conn, "PRAGMA foreign_keys = ON")
                if self._sqlite and self._raw_sqlite(conn, "PRAGMA foreign_key_check"):
                    raise StoreError("migration left rows breaking foreign keys")
        except (SQLAlchemyError, CommandError) as exc:
            raise StoreError(f"could not migrate the store at {self.url}: {exc}") from exc

    @staticmethod
    def _raw_sqlite(conn: Connection, sql: str) -> list[Any]:
        # Outside any transaction: PRAGMA foreign_keys is ignored inside one.
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def call_started(self, info: CallInfo, node: str) -> None:
        """Open the CDR of a new call handled by `node`."""
        started = aware(info.started_at, "started_at")
        with self._unit(f"record the start of call {info.call_id}", write=True) as s:
            s.add(
                CallRow(
                    id=info.call_id,
                    node=node,
                    direction=info.direction.value,
                    from_uri=info.from_uri,
                    to_uri=info.to_uri,
                    sip_call_id=info.sip_call_id,
                    started_at=started,
                )
            )

    def call_answered(self, call_id: str, at: datetime, codec: str | None) -> None:
        """Note when media started flowing and with which codec."""
        aware(at, "at")
        with self._unit(f"record the answer of call {call_id}", write=True) as s:
            row = self._call(s, call_id)
            row.answered_at = at
            if codec is not None:
                row.codec = codec

    def call_ended(
        self, call_id: str, at: datetime, reason: EndReason, sip_code: int | None
    ) -> None:
        """Close the CDR: when, why and with which final SIP status."""
        aware(at, "at")
        with self._unit(f"record the end of call {call_id}", write=True) as s:
            row = self._call(s, call_id)
            row.ended_at = at
            row.end_reason = EndReason(reason).value
            row.sip_code = sip_code

    def recording_started(self, call_id: str, path: str) -> None:
        """Note where the recording of a call is being written."""
        with self._unit(f"record the recording of call {call_id}", write=True) as s:
            self._call(s, call_id).recording_path = path

    def recording_finished(
        self, call_id: str, path: str, sha256: str, seconds: float, complete: bool
    ) -> None:
        """Note the finished recording: file, checksum, length and whether it is whole."""
        with self._unit(f"record the recording of call {call_id}", write=True) as s:
            row = self._call(s, call_id)
            row.recording_path = path
            row.recording_sha256 = sha256
            row.recording_seconds = seconds
            row.recording_complete = complete

    def add_event(self, call_id: str, kind: str, data: dict[str, Any], at: datetime) -> None:
        """Append an event to a call; `data` must be JSON-able."""
        aware(at, "at")
        with self._unit(f"add a {kind!r} event to call {call_id}", write=True) as s:
            self._call(s, call_id)
            s.add(CallEventRow(call_id=call_id, at=at, kind=kind, data=dict(data)))

    def mark_incomplete(self, call_id: str, at: datetime) -> None:
        """End a call its node lost track of (crash recovery), with reason ``incomplete``.

        A call that has already ended is left as it is.
        """
        aware(at, "at")
        with self._unit(f"mark call {call_id} incomplete", write=True) as s:
            row = self._call(s, call_id)
            if row.ended_at is None:
                row.ended_at = at
                row.end_reason = EndReason.INCOMPLETE.value

    def get_call(self, call_id: str) -> CallRecord | None:
        """The CDR of one call, or None if there is none."""
        with self._unit(f"read call {call_id}") as s:
            row = s.get(CallRow, call_id)
            return None if row is None else CallRecord.from_row(row)

    def recent_calls(self, limit: int = 20) -> list[CallRecord]:
        """The `limit` most recently started calls, newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = select(CallRow).order_by(CallRow.started_at.desc(), CallRow.id.desc())
        with self._unit("read recent calls") as s:
            return [CallRecord.from_row(r) for r in s.scalars(query.limit(limit))]

    def events_for(self, call_id: str) -> list[EventRecord]:
        """The events of a call, oldest first (ties in insertion order)."""
        query = (
            select(CallEventRow)
            .where(CallEventRow.call_id == call_id)
            .order_by(CallEventRow.at, CallEventRow.id)
        )
        with self._unit(f"read the events of call {call_id}") as s:
            return [EventRecord.from_row(r) for r in s.scalars(query)]

    def unfinished_calls(self, node: str) -> list[CallRecord]:
        """Calls of `node` that never ended, oldest first: left over from a crash."""
        query = (
            select(CallRow)
            .where(CallRow.node == node, CallRow.ended_at.is_(None))
            .order_by(CallRow.started_at, CallRow.id)
        )
        with self._unit(f"read the unfinished calls of node {node}") as s:
            return [CallRecord.from_row(r) for r in s.scalars(query)]

    def find_calls(self, prefix: str, limit: int = 20) -> list[CallRecord]:
        """Calls whose id starts with `prefix` (exactly, case included), newest first.

        At most `limit` of them: more than one means the prefix is ambiguous.
        """
        if not prefix:
            raise ValueError("prefix must not be empty; use recent_calls() to list calls")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = (
            select(CallRow)
            # Not LIKE: it ignores case on SQLite and treats % and _ as wildcards.
            .where(func.substr(CallRow.id, 1, len(prefix)) == prefix)
            .order_by(CallRow.started_at.desc(), CallRow.id.desc())
            .limit(limit)
        )
        with self._unit(f"find calls with id prefix {prefix!r}") as s:
            return [CallRecord.from_row(r) for r in s.scalars(query)]

    def add_turn(self, call_id: str, turn: TurnInput) -> None:
        """Append `turn` to the transcript of a call, numbered after the turns it has.

        The number (`seq`, from 0) is taken inside the writing transaction with
        the call locked, so turns added at the same time get distinct numbers.
        """
        speaker = str(turn.speaker)
        if speaker not in SPEAKERS:
            raise refused(f"unknown speaker {speaker!r}; expected one of {', '.join(SPEAKERS)}")
        aware(turn.started_at, "started_at")
        if turn.ended_at is not None:
            aware(turn.ended_at, "ended_at")
        with self._unit(f"add a turn to call {call_id}", write=True) as s:
            self._call(s, call_id, lock=True)
            last = s.scalar(select(func.max(TurnRow.seq)).where(TurnRow.call_id == call_id))
            s.add(
                TurnRow(
                    call_id=call_id,
                    seq=0 if last is None else last + 1,
                    speaker=speaker,
                    text=turn.text,
                    started_at=turn.started_at,
                    ended_at=turn.ended_at,
                    confidence=turn.confidence,
                    intent=turn.intent,
                    state=turn.state,
                    data=dict(turn.data),
                )
            )

    def turns_for(self, call_id: str) -> list[TurnRecord]:
        """The transcript of a call: its turns in order of `seq`."""
        query = select(TurnRow).where(TurnRow.call_id == call_id).order_by(TurnRow.seq)
        with self._unit(f"read the turns of call {call_id}") as s:
            return [TurnRecord.from_row(r) for r in s.scalars(query)]

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """A copy of the data of the `kind` record under `key`, or None if there is none."""
        with self._unit(f"read the {kind!r} record {key!r}") as s:
            row = s.scalar(_record_query(kind, key))
            return None if row is None else copy.deepcopy(row.data)

    def update_record(self, kind: str, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `fields` into the data of an existing record; returns the merged data.

        Top-level keys of `fields` replace those of the record; the others stay.
        A record that does not exist is a `StoreError` (use `put_record` to create).
        """
        with self._unit(f"update the {kind!r} record {key!r}", write=True) as s:
            row = s.scalar(_record_query(kind, key).with_for_update())
            if row is None:
                raise _no_record(kind, key)
            row.data = {**row.data, **fields}
            row.updated_at = datetime.now(UTC)
            return copy.deepcopy(row.data)

    def put_record(self, kind: str, key: str, data: Mapping[str, Any]) -> None:
        """Create the `kind` record under `key`, or replace all of its data."""
        values = {"kind": kind, "key": key, "data": dict(data), "updated_at": datetime.now(UTC)}
        with self._unit(f"store the {kind!r} record {key!r}", write=True) as s:
            s.execute(self._upsert_record(values))

    def _upsert_record(self, values: dict[str, Any]) -> Executable:
        # One statement, so two nodes creating the same record cannot collide.
        keys = [RecordRow.kind, RecordRow.key]
        if self._sqlite:
            lite = sqlite_insert(RecordRow).values(values)
            changed = {c: lite.excluded[c] for c in ("data", "updated_at")}
            return lite.on_conflict_do_update(index_elements=keys, set_=changed)
        pg = postgresql_insert(RecordRow).values(values)
        changed = {c: pg.excluded[c] for c in ("data", "updated_at")}
        return pg.on_conflict_do_update(index_elements=keys, set_=changed)

    def records(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Every record of `kind` as ``(key, data)`` pairs, ordered by key."""
        query = select(RecordRow).where(RecordRow.kind == kind).order_by(RecordRow.key)
        with self._unit(f"read the {kind!r} records") as s:
            return [(r.key, copy.deepcopy(r.data)) for r in s.scalars(query)]

    @property
    def nodes(self) -> NodeTable:
        """The nodes sharing this store: unique names and heartbeats."""
        return NodeTable(self)

    @property
    def acd(self) -> AcdTables:
        """The human queue's agents, agent states, queue entries and callbacks."""
        return AcdTables(self)

    @property
    def api_users(self) -> ApiUsers:
        """Users of the control API: roles and token hashes."""
        return ApiUsers(self)

    @property
    def dnc(self) -> DncLists:
        """The internal do-not-call list, its audit trail, and callees' consents."""
        return DncLists(self)

    @property
    def campaigns(self) -> CampaignTables:
        """Outbound campaigns, their contacts and the durable attempt log."""
        return CampaignTables(self)

    @property
    def supervision(self) -> SupervisionAudit:
        """The audit trail of supervisors listening in, whispering and barging in."""
        return SupervisionAudit(self)

    @property
    def voicemails(self) -> Voicemails:
        """The messages callers left at a queue's limit (where each WAV is)."""
        return Voicemails(self)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()
