"""The demo's record stores and seed data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dialog.record_stores import InMemoryRecordStore, read_seed

SEED = Path(__file__).resolve().parents[2] / "config" / "flows" / "seed" / "clinic.yaml"


def test_the_clinic_seed_has_relative_dates() -> None:
    records = read_seed(SEED, date(2025, 6, 4))
    maria = records["appointment"]["+15551230001"]
    assert maria["date"] == "2025-06-06" and maria["time"] == "09:30"


async def test_memory_store_logs_updates() -> None:
    store = InMemoryRecordStore({"k": {"1": {"a": 1}}})
    await store.update("k", "1", {"b": 2})
    assert await store.lookup("k", "1") == {"a": 1, "b": 2}
    assert store.updates == [("k", "1", {"b": 2})]
