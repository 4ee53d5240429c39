"""Two `RecordStore`s: in memory (tests, trials) and SQLite (the demo), plus demo seeding.

    store = SqliteRecordStore(Path("data/dialog_records.db"))
    store.seed(read_seed(Path("config/flows/seed/clinic.yaml"), today), replace=True)
    await store.lookup("appointment", "+15551230001")  -> {"patient_name": ..., ...}

Records are JSON objects filed under (kind, key). The SQLite store keeps its
own file, apart from the engine's store, and runs each operation on a worker
thread so the event loop never waits on the disk. Seed files are YAML
``kind -> key -> fields``; a value ``today``, ``today+N`` or ``today-N`` becomes
that day's ISO date, so demo appointments are always in the near future.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from callcenter.core.errors import StoreError
from dialog.yaml_lines import YamlError, load_with_lines

Records = dict[str, dict[str, dict[str, Any]]]
_RELATIVE_DAY = re.compile(r"^today(?:\s*([+-])\s*(\d+))?$")


class InMemoryRecordStore:
    """Records in a dict; `updates` logs every update (for tests)."""

    def __init__(self, records: Records | None = None) -> None:
        self.records: Records = {k: {key: dict(v) for key, v in by_key.items()}
                                 for k, by_key in (records or {}).items()}
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    async def lookup(self, kind: str, key: str) -> dict[str, Any] | None:
        """A copy of the record, or None."""
        found = self.records.get(kind, {}).get(key)
        return dict(found) if found is not None else None

    async def update(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        """Merge `fields` into the record (creating it if needed)."""
        self.updates.append((kind, key, dict(fields)))
        self.records.setdefault(kind, {}).setdefault(key, {}).update(fields)


class SqliteRecordStore:
    """Records in one SQLite file (table ``dialog_records``), safe across threads."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self._timeout = busy_timeout_s
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("CREATE TABLE IF NOT EXISTS dialog_records ("
                           " kind TEXT NOT NULL, key TEXT NOT NULL, fields TEXT NOT NULL,"
                           " PRIMARY KEY (kind, key))")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the record store {path}: {exc}") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection and transaction: committed on success, always closed."""
        with closing(sqlite3.connect(self.path, timeout=self._timeout)) as db, db:
            yield db

    def seed(self, records: Records, *, replace: bool = False) -> int:
        """Insert `records`; existing ones are kept unless `replace`. Returns rows written."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        rows = [(kind, key, json.dumps(fields)) for kind, by_key in records.items()
                for key, fields in by_key.items()]
        try:
            with self._connect() as db:
                cursor = db.executemany(
                    f"{verb} INTO dialog_records (kind, key, fields) VALUES (?, ?, ?)", rows)
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"cannot seed {self.path}: {exc}") from exc

    def lookup_now(self, kind: str, key: str) -> dict[str, Any] | None:
        """`lookup`, blocking (for tools and tests)."""
        try:
            with self._connect() as db:
                row = db.execute("SELECT fields FROM dialog_records WHERE kind = ? AND key = ?",
                                 (kind, key)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {kind} {key!r}: {exc}") from exc
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def update_now(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        """`update`, blocking: merges `fields` into the record (creating it if needed)."""
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT fields FROM dialog_records WHERE kind = ? AND key = ?",
                                 (kind, key)).fetchone()
                merged = {**(json.loads(row[0]) if row else {}), **fields}
                db.execute("INSERT OR REPLACE INTO dialog_records (kind, key, fields) "
                           "VALUES (?, ?, ?)", (kind, key, json.dumps(merged)))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update {kind} {key!r}: {exc}") from exc

    async def lookup(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record of `kind` under `key`, or None."""
        return await asyncio.to_thread(self.lookup_now, kind, key)

    async def update(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        """Merge `fields` into the record of `kind` under `key`."""
        await asyncio.to_thread(self.update_now, kind, key, dict(fields))


def _resolve_days(value: Any, today: date) -> Any:
    if isinstance(value, str):
        found = _RELATIVE_DAY.match(value.strip())
        if found:
            days = int(found[2] or 0) * (-1 if found[1] == "-" else 1)
            return (today + timedelta(days=days)).isoformat()
    return value


def read_seed(path: Path, today: date) -> Records:
    """Demo records from a seed YAML file (kind -> key -> fields), days resolved."""
    try:
        data, _lines = load_with_lines(path.read_text(encoding="utf-8"), str(path))
    except (OSError, YamlError) as exc:
        raise StoreError(f"cannot read the seed file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StoreError(f"{path}: expected kind -> key -> fields")
    return {str(kind): {str(key): {str(f): _resolve_days(v, today) for f, v in fields.items()}
                        for key, fields in by_key.items()}
            for kind, by_key in data.items()}
