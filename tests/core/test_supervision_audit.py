"""The supervision audit on SQLite and PostgreSQL: a row per monitor, its modes in order,
how long the supervisor was joined and how it ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.errors import StoreError
from callcenter.core.store import AsyncStore, Store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_a_monitor_from_request_to_end(store: Store) -> None:
    audit = store.supervision
    audit.open("m1", "c" * 32, "1002", "listen", T0, via="phone", phone="sip:sup@x", node="n1")
    audit.joined("m1", T0 + timedelta(seconds=2), "d" * 32)
    audit.mode_changed("m1", "whisper", T0 + timedelta(seconds=5))
    audit.mode_changed("m1", "barge", T0 + timedelta(seconds=9))
    record = audit.close("m1", T0 + timedelta(seconds=12), "stopped")
    assert (record.supervisor, record.via, record.phone, record.leg_call_id, record.node) == (
        "1002", "phone", "sip:sup@x", "d" * 32, "n1")
    assert record.mode == "barge"
    assert record.mode_log == (("listen", T0), ("whisper", T0 + timedelta(seconds=5)),
                               ("barge", T0 + timedelta(seconds=9)))
    assert record.duration_s == pytest.approx(10.0)
    assert record.end_reason == "stopped" and record.ended_at == T0 + timedelta(seconds=12)
    assert store.supervision.rows(call_id="c" * 32) == [record]
    assert store.supervision.rows(supervisor="someone else") == []
    with pytest.raises(StoreError, match="already closed"):
        audit.close("m1", T0 + timedelta(seconds=13), "stopped")


def test_a_phone_that_never_answered_has_no_duration(store: Store) -> None:
    store.supervision.open("m2", "c" * 32, "ops", "barge", T0, via="phone", phone="sip:a@b")
    record = store.supervision.close("m2", T0 + timedelta(seconds=20), "no_answer",
                                     sip_code=486)
    assert (record.joined_at, record.duration_s, record.sip_code) == (None, None, 486)


def test_bad_values_are_refused_naming_them(store: Store) -> None:
    with pytest.raises(StoreError, match="monitor mode 'spy'"):
        store.supervision.open("m3", "c" * 32, "x", "spy", T0, via="phone")
    with pytest.raises(StoreError, match="naive"):
        store.supervision.open("m3", "c" * 32, "x", "listen", T0.replace(tzinfo=None),
                               via="session")
    with pytest.raises(StoreError, match="unknown monitor"):
        store.supervision.joined("nope", T0, "d" * 32)


async def test_the_async_audit_runs_on_the_store_thread(url: str) -> None:
    store = AsyncStore(Store(url))
    await store.migrate()
    try:
        await store.supervision.open("m4", "e" * 32, "1002", "listen", T0, via="session")
        await store.supervision.joined("m4", T0, "f" * 32)
        await store.supervision.mode_changed("m4", "barge", T0 + timedelta(seconds=1))
        closed = await store.supervision.close("m4", T0 + timedelta(seconds=3), "call_ended")
        assert (closed.mode, closed.duration_s) == ("barge", 3.0)
        assert [r.monitor_id for r in await store.supervision.rows(since=T0)] == ["m4"]
    finally:
        await store.close()
