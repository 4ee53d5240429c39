"""Node names on a shared store: claims, heartbeats, who counts as gone (SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.core.call import utcnow
from callcenter.core.errors import SettingsError
from callcenter.core.settings import NodeSettings
from callcenter.core.store import Store
from callcenter.node_registry import (
    NodeRegistry,
    default_node_name,
    host_name,
    pid_running,
    remove_pid_file,
    running_nodes,
    write_pid_file,
)

SETTINGS = NodeSettings(heartbeat_s=0.05, stale_after_s=5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'nodes.db'}")
    store.migrate()
    yield store
    store.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    return proc.pid


def test_default_name_is_host_and_port() -> None:
    assert default_node_name(5070) == f"{host_name()}-5070"
    assert " " not in host_name()


def test_a_live_name_is_refused_naming_the_setting_and_the_holder(store: Store) -> None:
    first = NodeRegistry(store, SETTINGS, "n1", 5060)
    first.claim()
    second = NodeRegistry(store, SETTINGS, "n1", 5070)
    # The holder runs (its pid is ours) on another host: only its heartbeat counts.
    store.nodes.claim(replace(first.record, host="elsewhere", instance="x" * 32),
                      lambda n: True)
    with pytest.raises(SettingsError) as err:
        second.claim()
    message = str(err.value)
    assert "node.name 'n1'" in message and "host elsewhere" in message
    assert f"pid {os.getpid()}" in message and "SIP port 5060" in message
    holder = store.nodes.get("n1")
    assert holder is not None and holder.sip_port == 5060  # untouched


def test_stale_heartbeat_clean_stop_or_dead_pid_free_the_name(store: Store) -> None:
    now = utcnow()
    registry = NodeRegistry(store, SETTINGS, "n2", 5060)
    other = replace(registry.record, host="elsewhere", instance="a" * 32)
    assert registry.is_gone(other, now) is False
    assert registry.is_gone(replace(other, heartbeat_at=now - timedelta(seconds=6)), now)
    assert registry.is_gone(replace(other, stopped_at=now), now)
    same_host = replace(other, host=host_name(), pid=dead_pid())
    assert registry.is_gone(same_host, now)
    assert not registry.is_gone(replace(same_host, pid=os.getppid()), now)

    store.nodes.claim(replace(other, heartbeat_at=now - timedelta(seconds=60)),
                      lambda n: True)
    registry.claim()  # the stale holder's name is taken over
    taken = store.nodes.get("n2")
    assert taken is not None and taken.instance == registry.record.instance
    assert store.nodes.heartbeat("n2", "a" * 32, utcnow()) is False  # the old holder lost it


def test_heartbeats_then_a_clean_stop(store: Store) -> None:
    registry = NodeRegistry(store, SETTINGS, "n3", 5060)
    registry.claim()
    started = store.nodes.get("n3")
    assert started is not None
    registry.start_heartbeat()
    try:
        deadline = utcnow() + timedelta(seconds=10)
        while utcnow() < deadline:
            beat = store.nodes.get("n3")
            if beat is not None and beat.heartbeat_at > started.heartbeat_at:
                break
    finally:
        registry.stop()
    stopped = store.nodes.get("n3")
    assert stopped is not None and stopped.heartbeat_at > started.heartbeat_at
    assert stopped.stopped_at is not None
    NodeRegistry(store, SETTINGS, "n3", 5061).claim()  # free at once


def test_gone_names_retire_dead_nodes_of_this_host_once(store: Store) -> None:
    now = utcnow()
    me = NodeRegistry(store, SETTINGS, "me", 5002)
    live = replace(me.record, name="live", pid=os.getppid(), instance="l" * 32)
    dead = replace(me.record, name="dead", pid=dead_pid(), instance="d" * 32)
    remote = replace(me.record, name="remote", host="elsewhere", instance="r" * 32,
                     heartbeat_at=now - timedelta(hours=1))
    for node in (live, dead, remote):
        store.nodes.claim(node, lambda n: True)
    me.claim()
    assert me.gone_names() == ["me", "dead"]  # not the live one, not another host's
    assert me.gone_names() == ["me"]  # retired: recovered only once


def test_pid_files(tmp_path: Path) -> None:
    path = write_pid_file(tmp_path, "n")
    assert path == tmp_path / "run" / "n.pid"
    # pytest is no `callcenter serve`: its pid file is not a running node.
    assert running_nodes(tmp_path) == {}
    assert pid_running(os.getpid())
    remove_pid_file(path)
    assert not path.exists()
