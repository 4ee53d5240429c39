"""Synthesized sentences kept in memory and on disk, so a static prompt is
synthesized once per voice and rate, ever.

Entries are PCM16 bytes keyed by :meth:`PromptCache.key`, a sha256 of
everything that shapes the audio (voice, rate, speaking rate, the normalized
sentence). Memory is an LRU bounded in bytes; the disk copy,
``<dir>/<key>.pcm``, survives restarts and is shared by every node using the
directory. Disk writes are atomic (temporary file, then rename), so a reader
never sees half a file; the disk is bounded too, oldest-used files going
first. The cache is best effort: a disk error is logged and the sentence is
simply synthesized again.

Thread-safe. :meth:`peek` never blocks and may run on the event loop;
:meth:`get` and :meth:`put` touch the disk and belong in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SUFFIX = ".pcm"
# Bump when the synthesizer renders a sentence differently (2: Piper's
# lead-in trimmed to 10 ms).
RENDERING = 2


@dataclass
class CacheStats:
    """Counters since start, for tests, benchmarks and metrics."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    writes: int = 0


class PromptCache:
    """PCM by key: an LRU of at most `memory_bytes` in memory, and (when
    `directory` is given) files of at most `disk_bytes` in all on disk."""

    def __init__(self, directory: Path | None, *, memory_bytes: int = 32 << 20,
                 disk_bytes: int = 512 << 20) -> None:
        self.directory = directory
        self.memory_bytes = memory_bytes
        self.disk_bytes = disk_bytes
        self.stats = CacheStats()
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()
        self._disk_used = 0
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._disk_used = self._scan_disk()

    @staticmethod
    def key(voice_id: str, rate: int, length_scale: float | None, sentence: str) -> str:
        """The cache key (a sha256 hex digest) of one rendering of `sentence`.

        It includes RENDERING, so audio cached by an engine that rendered
        differently (before the lead-in trim, say) is not served again.
        """
        blob = json.dumps([RENDERING, voice_id, rate, length_scale, sentence],
                          ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def peek(self, key: str) -> bytes | None:
        """The PCM if it is in memory; never touches the disk."""
        with self._lock:
            pcm = self._memory.get(key)
            if pcm is not None:
                self._memory.move_to_end(key)
                self.stats.memory_hits += 1
            return pcm

    def get(self, key: str) -> bytes | None:
        """The PCM from memory or disk (a disk hit is kept in memory), or None."""
        pcm = self.peek(key)
        if pcm is not None or self.directory is None:
            if pcm is None:
                self._count_miss()
            return pcm
        path = self._path(key)
        try:
            pcm = path.read_bytes()
            os.utime(path)  # recently used: pruned last
        except FileNotFoundError:
            pcm = None
        except OSError as exc:
            log.warning("prompt cache: cannot read %s: %s", path, exc)
            pcm = None
        if pcm is None or not pcm or len(pcm) % 2:
            self._count_miss()
            return None
        with self._lock:
            self.stats.disk_hits += 1
        self._remember(key, pcm)
        return pcm

    def put(self, key: str, pcm: bytes) -> None:
        """Keep `pcm` in memory and write it to disk atomically."""
        self._remember(key, pcm)
        if self.directory is None or not pcm:
            return
        path = self._path(key)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(pcm)
                Path(tmp).replace(path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("prompt cache: cannot write %s: %s", path, exc)
            return
        with self._lock:
            self.stats.writes += 1
            self._disk_used += len(pcm)
            over = self._disk_used > self.disk_bytes
        if over:
            self._prune_disk()

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}{_SUFFIX}"

    def _count_miss(self) -> None:
        with self._lock:
            self.stats.misses += 1

    def _remember(self, key: str, pcm: bytes) -> None:
        if len(pcm) > self.memory_bytes:
            return
        with self._lock:
            old = self._memory.pop(key, None)
            self._memory_used -= len(old) if old is not None else 0
            self._memory[key] = pcm
            self._memory_used += len(pcm)
            while self._memory_used > self.memory_bytes:
                _, evicted = self._memory.popitem(last=False)
                self._memory_used -= len(evicted)

    def _scan_disk(self) -> int:
        """Bytes used by the cache files. Leftovers of interrupted writes are
        removed once old enough not to be another process's write in progress."""
        assert self.directory is not None
        used = 0
        stale = time.time() - 3600
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".tmp") and entry.stat().st_mtime < stale:
                Path(entry.path).unlink(missing_ok=True)
            elif entry.name.endswith(_SUFFIX):
                used += entry.stat().st_size
        return used

    def _prune_disk(self) -> None:
        """Delete least recently used files until 80 % of the bound is left."""
        assert self.directory is not None
        files = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(_SUFFIX):
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, entry.path))
        files.sort()
        used = sum(size for _, size, _ in files)
        for _, size, path in files:
            if used <= self.disk_bytes * 0.8:
                break
            Path(path).unlink(missing_ok=True)
            used -= size
        with self._lock:
            self._disk_used = used
