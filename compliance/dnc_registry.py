"""The National DNC Registry in memory: one snapshot's numbers, for fast membership tests.

Layout. A NANP number is a 6-digit prefix (area code and exchange,
``NPANXX``) and a 4-digit line. ``offsets`` (uint32, one entry per possible
prefix plus one: 4 MB) says where each prefix's lines start in ``lines``
(uint16, sorted within each prefix: 2 bytes a number). 10 million numbers
take 24 MB, the whole registry (about 250 million) about 0.5 GB. A lookup
reads two offsets and bisects the few lines of one prefix (38 at most for
10 million random numbers), so it touches two or three cache lines where a
plain sorted uint64 array (80 MB) costs about 24 misses; measured on 10M
numbers and 1M random queries: 4.7 M checks/s batched, against 0.7 M/s for
``np.searchsorted`` on the uint64 array. See ``bench/dnc_lookup.py``.

Snapshot file (``<data_dir>/dnc/national-YYYY-MM-DD.dnc``), little-endian::

    0   8 bytes  magic b"CCNDNC01" (format 1)
    8  10 bytes  snapshot date, ASCII YYYY-MM-DD
    24  uint64   count of numbers
    32  uint32   CRC-32 of everything after the 64-byte header
    64  uint32 x 1,000,001   offsets
    ..  uint16 x count       lines

It is written to a temporary file and renamed, so a reader sees a whole
snapshot or none, and it is memory-mapped when read: loading costs the CRC
pass, not a parse. The newest date in the folder is the current snapshot.
"""

from __future__ import annotations

import bisect
import os
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from callcenter.core.errors import CallCenterError

#: Folder of the snapshots under the node's data folder.
SNAPSHOT_FOLDER = "dnc"
PREFIXES = 1_000_000  # NPANXX: 000000..999999
LINES_PER_PREFIX = 10_000
_MAGIC = b"CCNDNC01"
_HEADER = struct.Struct("<8s10s6xQI28x")  # 64 bytes
_NAME = re.compile(r"national-(\d{4}-\d{2}-\d{2})\.dnc")
_SMALLEST, _LARGEST = 2_000_000_000, 9_999_999_999  # area codes start with 2-9


class RegistrySnapshotError(CallCenterError):
    """A snapshot file is missing, damaged or of another format."""


class NationalDncList:
    """The numbers of one National DNC Registry snapshot, and the snapshot's date.

    Numbers are asked about as E.164 strings (``"+12025550123"``) or as
    10-digit integers (``2025550123``). Anything that is not a NANP number
    is simply not listed. Immutable and safe to share between threads.
    """

    def __init__(self, snapshot_date: date, offsets: NDArray[np.uint32],
                 lines: NDArray[np.uint16]) -> None:
        """Wrap ready arrays (see the module docstring); use ``from_numbers`` to build them."""
        if offsets.shape != (PREFIXES + 1,) or int(offsets[-1]) != len(lines):
            raise RegistrySnapshotError("offsets do not describe the lines")
        self.snapshot_date = snapshot_date
        self._offsets = offsets
        self._lines = lines
        #: Whether the snapshot lists the 10-digit number (e.g. 2025550123).
        self.contains_ten_digits: Callable[[int], bool]
        #: Whether the snapshot lists the E.164 number (``+1`` and 10 digits).
        self.contains: Callable[[str], bool]
        self.contains_ten_digits, self.contains = _scalar_lookups(offsets, lines)

    @classmethod
    def from_numbers(cls, numbers: ArrayLike, snapshot_date: date) -> NationalDncList:
        """The list of 10-digit ``numbers`` (any order, duplicates allowed)."""
        values = np.array(numbers, dtype=np.int64).ravel()  # a copy, sorted in place
        values.sort()
        # Not np.unique: numpy 2.4 dedupes by hashing first, 12 s for 10M numbers.
        if len(values) > 1:
            distinct = np.empty(len(values), dtype=np.bool_)
            distinct[0] = True
            np.not_equal(values[1:], values[:-1], out=distinct[1:])
            values = values[distinct]
        if len(values) and (values[0] < _SMALLEST or values[-1] > _LARGEST):
            raise ValueError("numbers must be 10-digit NANP numbers")
        prefixes, lines = np.divmod(values, LINES_PER_PREFIX)
        counts = np.bincount(prefixes, minlength=PREFIXES)
        offsets = np.zeros(PREFIXES + 1, dtype=np.uint32)
        np.cumsum(counts, out=offsets[1:])
        return cls(snapshot_date, offsets, lines.astype(np.uint16))

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, e164: object) -> bool:
        return isinstance(e164, str) and self.contains(e164)

    def contains_many(self, numbers: ArrayLike) -> NDArray[np.bool_]:
        """Membership of each 10-digit number in ``numbers``, as a bool array.

        The batch path for the dialer's pre-checks: a segmented binary search
        over all numbers at once, a few numpy passes whatever their count.
        """
        values = np.asarray(numbers, dtype=np.int64).ravel()
        valid = (values >= _SMALLEST) & (values <= _LARGEST)
        prefixes, lines = np.divmod(np.where(valid, values, 0), LINES_PER_PREFIX)
        low = self._offsets[prefixes].astype(np.int64)
        end = self._offsets[prefixes + 1].astype(np.int64)
        high = end.copy()
        last = max(len(self._lines) - 1, 0)
        table = self._lines if len(self._lines) else np.zeros(1, dtype=np.uint16)
        widest = int((high - low).max()) if len(values) else 0
        for _ in range(widest.bit_length()):
            middle = (low + high) >> 1
            below = (middle < high) & (table[np.minimum(middle, last)] < lines)
            low = np.where(below, middle + 1, low)
            high = np.where(below, high, middle)
        found: NDArray[np.bool_] = valid & (low < end) & (table[np.minimum(low, last)] == lines)
        return found

    def contains_many_e164(self, numbers: Sequence[str]) -> NDArray[np.bool_]:
        """Like ``contains_many``, for E.164 strings; non-NANP strings are not listed."""
        return self.contains_many([ten_digits(n) for n in numbers])

    def numbers(self) -> NDArray[np.int64]:
        """Every listed 10-digit number, ascending."""
        counts = self._offsets[1:].astype(np.int64) - self._offsets[:-1]
        prefixes = np.repeat(np.arange(PREFIXES, dtype=np.int64), counts)
        numbers: NDArray[np.int64] = prefixes * LINES_PER_PREFIX + self._lines
        return numbers

    def age_days(self, today: date) -> int:
        """Whole days from the snapshot's date to ``today``."""
        return (today - self.snapshot_date).days

    def write(self, folder: Path) -> Path:
        """Save as the snapshot file of its date in ``folder``, atomically; returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = snapshot_path(folder, self.snapshot_date)
        offsets = np.ascontiguousarray(self._offsets, dtype="<u4")
        lines = np.ascontiguousarray(self._lines, dtype="<u2")
        checksum = zlib.crc32(lines.data, zlib.crc32(offsets.data))
        header = _HEADER.pack(_MAGIC, self.snapshot_date.isoformat().encode(), len(lines),
                              checksum)
        temporary = folder / f".{path.name}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as out:
                out.write(header)
                out.write(offsets.tobytes())
                out.write(lines.tobytes())
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        _sync_folder(folder)
        return path


def _scalar_lookups(offsets: NDArray[np.uint32], lines: NDArray[np.uint16]
                    ) -> tuple[Callable[[int], bool], Callable[[str], bool]]:
    """The one-number lookups, as closures: about 13 % faster than methods.

    memoryviews hand out Python ints, so the bisect over a prefix's lines
    runs in C without numpy scalars.
    """
    offset_at = np.ascontiguousarray(offsets, dtype=np.uint32).data
    line_at = np.ascontiguousarray(lines, dtype=np.uint16).data

    def contains_ten_digits(number: int,
                            _bisect: Callable[..., int] = bisect.bisect_left) -> bool:
        if not _SMALLEST <= number <= _LARGEST:
            return False
        prefix, line = divmod(number, LINES_PER_PREFIX)
        end = offset_at[prefix + 1]
        at = _bisect(line_at, line, offset_at[prefix], end)
        return at < end and line_at[at] == line

    def contains(e164: str) -> bool:
        if len(e164) != 12 or not e164.startswith("+1") or not e164[2:].isdigit():
            return False
        return contains_ten_digits(int(e164[2:]))

    return contains_ten_digits, contains


def ten_digits(e164: str) -> int:
    """The 10-digit integer of a ``+1`` E.164 number, or -1 for anything else."""
    if len(e164) == 12 and e164.startswith("+1") and e164[2:].isdigit():
        return int(e164[2:])
    return -1


def snapshot_folder(data_dir: Path) -> Path:
    """Where a node keeps its National DNC snapshots."""
    return data_dir / SNAPSHOT_FOLDER


def snapshot_path(folder: Path, snapshot_date: date) -> Path:
    """The file of the snapshot of ``snapshot_date`` in ``folder``."""
    return folder / f"national-{snapshot_date.isoformat()}.dnc"


def snapshot_dates(folder: Path) -> list[date]:
    """The dates of the snapshots in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = (_NAME.fullmatch(entry.name) for entry in os.scandir(folder))
    return sorted(date.fromisoformat(m[1]) for m in found if m is not None)


def read_snapshot(path: Path, *, verify: bool = True) -> NationalDncList:
    """The snapshot in ``path``, memory-mapped; ``verify`` checks its CRC (one read pass)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as src:
            head = src.read(_HEADER.size)
    except OSError as exc:
        raise RegistrySnapshotError(f"cannot read the DNC snapshot {path}: {exc}") from None
    if len(head) < _HEADER.size or head[:8] != _MAGIC:
        raise RegistrySnapshotError(f"{path} is not a DNC snapshot of format 1")
    _, day, count, checksum = _HEADER.unpack(head)
    expected = _HEADER.size + 4 * (PREFIXES + 1) + 2 * count
    if size != expected:
        raise RegistrySnapshotError(f"{path} is damaged: {size} bytes, expected {expected}")
    offsets: NDArray[Any] = np.memmap(path, dtype="<u4", mode="r", offset=_HEADER.size,
                                      shape=(PREFIXES + 1,))
    lines: NDArray[Any] = (np.memmap(path, dtype="<u2", mode="r",
                                     offset=_HEADER.size + 4 * (PREFIXES + 1), shape=(count,))
                           if count else np.zeros(0, dtype="<u2"))
    if verify and zlib.crc32(lines.data, zlib.crc32(offsets.data)) != checksum:
        raise RegistrySnapshotError(f"{path} is damaged: its checksum does not match")
    try:
        return NationalDncList(date.fromisoformat(day.decode()), offsets, lines)
    except (ValueError, RegistrySnapshotError):
        raise RegistrySnapshotError(f"{path} is damaged: bad date or offsets") from None


@dataclass(frozen=True)
class SnapshotFolder:
    """The National DNC snapshots of a node: the newest one is current."""

    folder: Path

    @classmethod
    def of(cls, data_dir: Path) -> SnapshotFolder:
        """The snapshot folder under a node's data folder."""
        return cls(snapshot_folder(data_dir))

    def current_date(self) -> date | None:
        """The date of the current snapshot, None when there is none."""
        dates = snapshot_dates(self.folder)
        return dates[-1] if dates else None

    def load_current(self, *, verify: bool = True) -> NationalDncList | None:
        """The current snapshot, memory-mapped, or None when there is none."""
        newest = self.current_date()
        return None if newest is None else read_snapshot(snapshot_path(self.folder, newest),
                                                         verify=verify)

    def install(self, registry: NationalDncList) -> Path:
        """Write ``registry`` as a snapshot, then drop the snapshots older than it."""
        path = registry.write(self.folder)
        self.drop_older_than(registry.snapshot_date)
        return path

    def drop_older_than(self, keep: date) -> list[date]:
        """Delete the snapshots dated before ``keep``; returns their dates."""
        dropped = [day for day in snapshot_dates(self.folder) if day < keep]
        for day in dropped:
            snapshot_path(self.folder, day).unlink(missing_ok=True)
        return dropped


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
