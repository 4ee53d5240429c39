"""Users of the control API in the store, on SQLite and PostgreSQL: tokens found by
hash, removed users refused, names unique among active users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.core.errors import StoreError
from callcenter.core.store import Store

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def test_a_user_is_found_by_the_hash_of_their_token(store: Store) -> None:
    added = store.api_users.add("ana", "supervisor", "a" * 64, at=T0)
    store.api_users.add("1001", "agent", "b" * 64, at=T0, agent_id="1001")

    assert added.active and added.role == "supervisor" and added.created_at == T0
    found = store.api_users.by_token_hash("b" * 64)
    assert found is not None and (found.name, found.role, found.agent_id) == (
        "1001", "agent", "1001")
    assert store.api_users.by_token_hash("c" * 64) is None
    assert [u.name for u in store.api_users.all()] == ["1001", "ana"]


def test_a_removed_user_is_refused_and_may_be_added_again_with_a_new_token(
        store: Store) -> None:
    store.api_users.add("ana", "supervisor", "a" * 64, at=T0)

    assert store.api_users.disable("ana", at=T0 + timedelta(hours=1))
    assert not store.api_users.disable("ana", at=T0 + timedelta(hours=2))
    assert store.api_users.by_token_hash("a" * 64) is None
    [gone] = store.api_users.all()
    assert gone.disabled_at == T0 + timedelta(hours=1) and not gone.active

    again = store.api_users.add("ana", "admin", "d" * 64, at=T0 + timedelta(days=1))
    assert again.active and again.role == "admin"
    assert store.api_users.by_token_hash("a" * 64) is None
    assert store.api_users.by_token_hash("d" * 64) == again


def test_bad_users_are_refused_with_the_reason(store: Store) -> None:
    store.api_users.add("ana", "supervisor", "a" * 64, at=T0)
    with pytest.raises(StoreError, match="'ana' exists"):
        store.api_users.add("ana", "admin", "e" * 64, at=T0)
    with pytest.raises(StoreError, match="unknown role 'boss'"):
        store.api_users.add("bob", "boss", "f" * 64, at=T0)
    with pytest.raises(StoreError, match="agent user needs the id"):
        store.api_users.add("bob", "agent", "f" * 64, at=T0)
    with pytest.raises(StoreError, match="naive"):
        store.api_users.add("bob", "admin", "f" * 64, at=datetime(2026, 1, 1))
    assert [u.name for u in store.api_users.all()] == ["ana"]
