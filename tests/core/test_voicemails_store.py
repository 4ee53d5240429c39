"""Voicemail rows on SQLite and PostgreSQL: stored where the WAV is, listed newest
first, marked heard once; bad values refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.errors import StoreError
from callcenter.core.store import AsyncStore, Store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_messages_are_listed_newest_first_and_marked_heard_once(store: Store) -> None:
    mail = store.voicemails
    first = mail.add("a" * 32, "billing", "/vm/1.wav", 12.5, "key", T0, caller="5551234",
                     node="n1")
    second = mail.add("b" * 32, "billing", "/vm/2.wav", 120.0, "max", T0 + timedelta(minutes=1))
    mail.add("c" * 32, "front-desk", "/vm/3.wav", 3.0, "hangup", T0 + timedelta(minutes=2))
    assert [r.id for r in mail.rows(queue="billing")] == [second, first]
    [row] = mail.rows(call_id="a" * 32)
    assert (row.queue, row.caller, row.path, row.duration_s, row.ended_by, row.node,
            row.recorded_at, row.heard_at) == ("billing", "5551234", "/vm/1.wav", 12.5, "key",
                                               "n1", T0, None)
    mail.mark_heard(first, T0 + timedelta(hours=1))
    mail.mark_heard(first, T0 + timedelta(hours=2))  # the first listen counts
    assert mail.rows(call_id="a" * 32)[0].heard_at == T0 + timedelta(hours=1)
    assert [r.id for r in mail.rows(queue="billing", unheard=True)] == [second]


def test_bad_values_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown voicemail end 'bored'"):
        store.voicemails.add("a" * 32, "q", "/vm/x.wav", 1.0, "bored", T0)
    with pytest.raises(StoreError, match="naive datetime"):
        store.voicemails.add("a" * 32, "q", "/vm/x.wav", 1.0, "key", T0.replace(tzinfo=None))
    with pytest.raises(StoreError, match="unknown voicemail 99"):
        store.voicemails.mark_heard(99, T0)


async def test_the_async_store_stores_and_lists(store: Store) -> None:
    async_store = AsyncStore(store)
    try:
        new = await async_store.voicemails.add("d" * 32, "q", "/vm/d.wav", 2.0, "silence", T0)
        assert [r.id for r in await async_store.voicemails.rows()] == [new]
    finally:
        await async_store.close()
