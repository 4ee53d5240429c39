"""This node's identity on a shared store, and its pid file on this host.

A node's name must be unique among the nodes sharing a store: a second
node started under a live node's name would take the first one's open
calls for a crash's leftovers and "repair" their recordings mid-call. So
:class:`NodeRegistry` claims the name at start (refused with a
:class:`SettingsError` naming ``node.name`` and the live node), writes a
heartbeat every ``node.heartbeat_s`` from a thread of its own (never on the
event loop, never queued behind the call journal), and marks a clean stop.

A holder counts as gone when it stopped cleanly, when its heartbeat is
older than ``node.stale_after_s``, or at once when it ran on this host and
its pid no longer runs (a ``kill -9`` and restart need not wait). Only then
are its open calls recovered (see :func:`NodeRegistry.gone_names`); calls
of a live node are never touched. Heartbeat times are the writer's clock:
hosts sharing a store need synchronised clocks (NTP) well within
``stale_after_s``.

The pid file (``<data_dir>/run/<name>.pid``) lets ``callcenter drain``
find the node to signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import uuid
from datetime import datetime
from pathlib import Path

from callcenter.core.call import utcnow
from callcenter.core.errors import SettingsError, StoreError
from callcenter.core.settings import NodeSettings
from callcenter.core.store import NodeRecord, Store

log = logging.getLogger(__name__)


def host_name() -> str:
    """This host's name, as node names and the registry use it."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "host"


def default_node_name(sip_port: int) -> str:
    """``<hostname>-<SIP port>``: unique per host without configuration."""
    return f"{host_name()}-{sip_port}"


def pid_running(pid: int) -> bool:
    """True if a process with `pid` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NodeRegistry:
    """Claims, keeps alive and releases one node's name on the store."""

    def __init__(self, store: Store, settings: NodeSettings, name: str,
                 sip_port: int | None) -> None:
        self._table = store.nodes
        self.settings = settings
        now = utcnow()
        self.record = NodeRecord(name=name, host=host_name(), sip_port=sip_port,
                                 pid=os.getpid(), instance=uuid.uuid4().hex, started_at=now,
                                 heartbeat_at=now)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = False

    @property
    def name(self) -> str:
        return self.record.name

    def is_gone(self, node: NodeRecord, now: datetime | None = None) -> bool:
        """Whether `node` (another start under some name) has really ended."""
        if node.stopped_at is not None:
            return True
        if node.host == self.record.host and (node.pid == os.getpid()
                                              or not pid_running(node.pid)):
            return True
        age = ((now or utcnow()) - node.heartbeat_at).total_seconds()
        return age > self.settings.stale_after

    def claim(self) -> None:
        """Take the name, or raise SettingsError if a live node has it (blocking)."""
        holder = self._table.claim(self.record, self.is_gone)
        if holder is None:
            return
        age = (utcnow() - holder.heartbeat_at).total_seconds()
        raise SettingsError(
            f"node.name {self.name!r} is in use by a live node on this store: host "
            f"{holder.host}, pid {holder.pid}, SIP port {holder.sip_port}, started "
            f"{holder.started_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {age:.1f} s ago. "
            "Give this node another node.name (or leave it unset for <hostname>-<SIP port>), "
            "or stop that node first (a node that died frees its name after "
            f"node.stale_after_s = {self.settings.stale_after:g} s without a heartbeat)")

    def gone_names(self) -> list[str]:
        """Names whose open calls are this start's to recover (blocking):
        its own (just proven free by :meth:`claim`) and nodes of this host
        that died without a clean stop."""
        retired = self._table.retire_gone(self.record.host,
                                          lambda n: n.name != self.name and self.is_gone(n),
                                          utcnow())
        for node in retired:
            log.warning("node %s (pid %d, SIP port %s) died without stopping; recovering "
                        "its calls", node.name, node.pid, node.sip_port)
        return [self.name, *(n.name for n in retired)]

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="node-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_s):
            try:
                alive = self._table.heartbeat(self.name, self.record.instance, utcnow())
            except StoreError as exc:
                log.warning("node heartbeat not written: %s", exc)
                continue
            if not alive and not self._lost:
                self._lost = True
                log.error("node.name %r was taken over by another start (this node's "
                          "heartbeat was late by more than node.stale_after_s?); it may "
                          "recover this node's calls", self.name)

    def stop(self) -> None:
        """Stop the heartbeat and mark the clean stop (blocking)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self._table.stopped(self.name, self.record.instance, utcnow())
        except StoreError as exc:
            log.warning("clean stop of node %s not recorded: %s", self.name, exc)


# -- pid files ------------------------------------------------------------------------
def pid_file(data_dir: Path, name: str) -> Path:
    return data_dir / "run" / f"{name}.pid"


def write_pid_file(data_dir: Path, name: str) -> Path:
    path = pid_file(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")
    return path


def remove_pid_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()


def running_nodes(data_dir: Path) -> dict[str, int]:
    """Nodes serving from `data_dir` on this host: name -> pid. Pid files
    whose process is gone or is not a ``callcenter serve`` are ignored."""
    found: dict[str, int] = {}
    for path in sorted((data_dir / "run").glob("*.pid")):
        try:
            pid = int(path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"serve" in cmdline and any(b"callcenter" in part for part in cmdline):
            found[path.stem] = pid
    return found
