"""The prompt cache alone: LRU in memory, atomic files on disk, bounds."""

from __future__ import annotations

import os
from pathlib import Path

from tts.prompt_cache import PromptCache


def _key(sentence: str) -> str:
    return PromptCache.key("voice:abc", 8000, 1.0, sentence)


def test_key_depends_on_everything_that_shapes_the_audio() -> None:
    base = PromptCache.key("v", 8000, 1.0, "Hello.")
    assert len(base) == 64 and int(base, 16) >= 0
    assert base == PromptCache.key("v", 8000, 1.0, "Hello.")
    others = {PromptCache.key("w", 8000, 1.0, "Hello."), PromptCache.key("v", 16000, 1.0, "Hello."),
              PromptCache.key("v", 8000, 1.2, "Hello."), PromptCache.key("v", 8000, 1.0, "Hello!")}
    assert base not in others and len(others) == 4


def test_memory_is_an_lru_bounded_in_bytes() -> None:
    cache = PromptCache(None, memory_bytes=300)
    cache.put(_key("a"), b"a" * 100)
    cache.put(_key("b"), b"b" * 100)
    cache.put(_key("c"), b"c" * 100)
    assert cache.peek(_key("a")) is not None  # a is now the most recently used
    cache.put(_key("d"), b"d" * 100)  # evicts b, the least recently used
    assert cache.peek(_key("b")) is None
    assert all(cache.peek(_key(k)) is not None for k in "acd")
    cache.put(_key("huge"), b"x" * 400)  # bigger than the bound: not kept
    assert cache.peek(_key("huge")) is None
    assert cache.get(_key("b")) is None
    assert cache.stats.misses == 1


def test_disk_survives_a_new_instance_and_writes_are_atomic(tmp_path: Path) -> None:
    first = PromptCache(tmp_path)
    first.put(_key("hello"), b"\x01\x02" * 50)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{_key('hello')}.pcm"]  # no temporary file left behind
    second = PromptCache(tmp_path)
    assert second.peek(_key("hello")) is None  # not in this instance's memory...
    assert second.get(_key("hello")) == b"\x01\x02" * 50  # ...but on disk
    assert second.stats.disk_hits == 1
    assert second.peek(_key("hello")) is not None  # and now in memory too


def test_truncated_file_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / f"{_key('odd')}.pcm").write_bytes(b"\x01\x02\x03")
    (tmp_path / f"{_key('empty')}.pcm").write_bytes(b"")
    cache = PromptCache(tmp_path)
    assert cache.get(_key("odd")) is None
    assert cache.get(_key("empty")) is None


def test_disk_is_bounded_oldest_used_first(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path, memory_bytes=0, disk_bytes=1300)
    for i in range(4):
        cache.put(_key(str(i)), b"\x00" * 300)
        path = tmp_path / f"{_key(str(i))}.pcm"
        os.utime(path, (1000 + i, 1000 + i))
    assert cache.get(_key("0")) is not None  # used again: now the newest
    cache.put(_key("4"), b"\x00" * 300)  # over the bound: pruned to 80 % of it
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {f"{_key(k)}.pcm" for k in "034"}


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".abc-123.tmp"
    fresh = tmp_path / ".def-456.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (1000, 1000))
    PromptCache(tmp_path)
    assert not stale.exists()
    assert fresh.exists()  # maybe another node's write in progress
