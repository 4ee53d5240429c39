"""The demo's record stores and seed data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from callcenter.core.errors import StoreError
from dialog.record_stores import InMemoryRecordStore, SqliteRecordStore, read_seed

SEED = Path(__file__).resolve().parents[2] / "config" / "flows" / "seed" / "clinic.yaml"


def test_the_clinic_seed_has_relative_dates() -> None:
    records = read_seed(SEED, date(2025, 6, 4))
    maria = records["appointment"]["+15551230001"]
    assert maria["date"] == "2025-06-06" and maria["time"] == "09:30"


async def test_sqlite_store_seeds_looks_up_and_updates(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    assert store.seed(read_seed(SEED, date(2025, 6, 4))) == 4
    assert store.seed({"appointment": {"+15551230001": {"status": "x"}}}) == 0  # kept
    await store.update("appointment", "+15551230001", {"status": "confirmed"})
    found = await store.lookup("appointment", "+15551230001")
    assert found is not None
    assert (found["status"], found["doctor"]) == ("confirmed", "Doctor Patel")
    assert await store.lookup("appointment", "+19999999999") is None
    store.seed(read_seed(SEED, date(2025, 6, 4)), replace=True)
    assert store.lookup_now("appointment", "+15551230001") == read_seed(
        SEED, date(2025, 6, 4))["appointment"]["+15551230001"]


def test_sqlite_store_errors_are_store_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError):
        SqliteRecordStore(tmp_path / "file" / "records.db")


async def test_memory_store_logs_updates() -> None:
    store = InMemoryRecordStore({"k": {"1": {"a": 1}}})
    await store.update("k", "1", {"b": 2})
    assert await store.lookup("k", "1") == {"a": 1, "b": 2}
    assert store.updates == [("k", "1", {"b": 2})]
