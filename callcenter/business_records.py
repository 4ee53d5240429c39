"""Business records for dialog flows, kept in the engine's store.

:class:`StoreRecords` is the dialog's `RecordStore` port over the kernel
store's ``records`` table; :func:`seed_records` loads a flow's demo seed file,
adding only records that are not there yet, so what callers changed (a
confirmed or moved appointment) survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from callcenter.core.store import AsyncStore
from dialog.record_stores import read_seed


class StoreRecords:
    """`dialog.ports.RecordStore` backed by the engine's store."""

    def __init__(self, store: AsyncStore) -> None:
        self._store = store

    async def lookup(self, kind: str, key: str) -> dict[str, Any] | None:
        return await self._store.get_record(kind, key)

    async def update(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        await self._store.update_record(kind, key, dict(fields))


async def seed_records(store: AsyncStore, seed_file: Path, today: date) -> int:
    """Add the seed file's records that the store lacks; returns how many."""
    added = 0
    for kind, by_key in read_seed(seed_file, today).items():
        for key, fields in by_key.items():
            if await store.get_record(kind, key) is None:
                await store.put_record(kind, key, fields)
                added += 1
    return added
