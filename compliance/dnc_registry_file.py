"""Import of a National DNC Registry file, as the FTC delivers it, into a snapshot.

Lines read (the FTC's full-list flat text file, and a variant described for
it):

- ``2025550123``: one 10-digit number a line;
- ``202,5550123``: the area code, a comma, the 7-digit number;
- blank lines, LF or CRLF endings, spaces around a number, a UTF-8 BOM.

Area codes and exchanges start with 2-9 (the NANP's rule). Any other line
is a ``RegistryFileError`` naming its line number, and nothing is written:
the whole file is read before the snapshot is written, and the snapshot is
written to a temporary file that is renamed only when complete. Change
lists (the registry's additions and deletions since a subscriber's last
download) are not read: their comma-delimited layout is not documented in
the material this was built from, and a full download at least every 31
days is what the safe harbour asks anyway.

Speed: lines of exactly 10 digits are parsed with numpy, a chunk at a time;
only the other lines go through Python. Memory while importing: about 16
bytes per number (the values, then their sorted copy).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from callcenter.core.errors import CallCenterError
from compliance.dnc_registry import NationalDncList, SnapshotFolder

#: Bytes read at a time (about 380,000 lines of 11 bytes).
CHUNK_BYTES = 1 << 22
_POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)
_VARIANT = re.compile(rb"\s*(?:(\d{10})|(\d{3}),(\d{7}))\s*")
_BAD, _BLANK = -1, -2
_BOM = b"\xef\xbb\xbf"
_LONGEST_LINE = 1024

#: Called with the bytes read so far, after each chunk.
Progress = Callable[[int], None]


class RegistryFileError(CallCenterError):
    """The registry file cannot be imported; ``line_number`` names the bad line, if one is."""

    def __init__(self, source: Path, problem: str, line_number: int | None = None,
                 line: bytes = b"") -> None:
        where = f"{source}, line {line_number}" if line_number is not None else str(source)
        shown = f": {line.decode('utf-8', 'replace')[:40]!r}" if line_number is not None else ""
        super().__init__(f"{where}: {problem}{shown}; nothing was imported")
        self.line_number = line_number


@dataclass(frozen=True)
class RegistryImport:
    """What an import did."""

    snapshot: Path
    snapshot_date: date
    #: Distinct numbers in the snapshot.
    numbers: int
    #: Lines that held a number (duplicates included).
    number_lines: int
    #: Older snapshots deleted once this one was in place.
    dropped: tuple[date, ...]

    @property
    def duplicates(self) -> int:
        """Lines that repeated a number already read."""
        return self.number_lines - self.numbers


def import_registry_file(source: Path, snapshot_date: date, folder: SnapshotFolder, *,
                         today: date | None = None,
                         progress: Progress | None = None) -> RegistryImport:
    """Read ``source`` and install it as the snapshot of ``snapshot_date``.

    ``snapshot_date`` is the day the file was downloaded from the registry;
    it may not be later than ``today`` (UTC by default). An existing snapshot
    of the same date is replaced; older ones are deleted once the new one is
    in place. Raises ``RegistryFileError``; then nothing has changed.
    """
    today = today or datetime.now(UTC).date()
    if snapshot_date > today:
        raise RegistryFileError(source, f"snapshot date {snapshot_date} is later than "
                                f"today ({today})")
    values = read_registry_numbers(source, progress)
    if not len(values):
        raise RegistryFileError(source, "no numbers in the file")
    registry = NationalDncList.from_numbers(values, snapshot_date)
    try:
        path = registry.write(folder.folder)
    except OSError as exc:
        raise RegistryFileError(source, f"cannot write the snapshot: {exc}") from None
    dropped = folder.drop_older_than(snapshot_date)
    return RegistryImport(path, snapshot_date, len(registry), len(values), tuple(dropped))


def read_registry_numbers(source: Path, progress: Progress | None = None) -> NDArray[np.int64]:
    """Every number of ``source`` as a 10-digit integer, in file order.

    Raises ``RegistryFileError`` naming the first bad line.
    """
    parts: list[NDArray[np.int64]] = []
    carry, done, lines_before = b"", 0, 0
    try:
        with open(source, "rb") as src:
            while True:
                block = src.read(CHUNK_BYTES)
                data = carry + block
                if not done and data.startswith(_BOM):
                    data = data[len(_BOM):]
                done += len(block)
                if not block and data and not data.endswith(b"\n"):
                    data += b"\n"  # the last line may lack its newline
                cut = data.rfind(b"\n") + 1
                whole, carry = data[:cut], data[cut:]
                if len(carry) > _LONGEST_LINE:
                    raise RegistryFileError(source, "line too long", lines_before
                                            + whole.count(b"\n") + 1, carry)
                if whole:
                    values = _parse_lines(whole, lines_before + 1, source)
                    lines_before += len(values)
                    parts.append(values[values >= 0])
                if progress is not None:
                    progress(done)
                if not block:
                    break
    except OSError as exc:
        raise RegistryFileError(source, f"cannot read it: {exc}") from None
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _parse_lines(data: bytes, first_line: int, source: Path) -> NDArray[np.int64]:
    # `data` ends with a newline. Each line becomes its number, _BLANK or _BAD.
    text = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(text == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    ends = ends - ((ends > starts) & (text[np.maximum(ends - 1, 0)] == 13))
    lengths = ends - starts
    values = np.full(len(ends), _BLANK, dtype=np.int64)
    plain = np.flatnonzero(lengths == 10)
    if len(plain):
        digits = text[starts[plain, None] + np.arange(10)]
        all_digits = ((digits >= 48) & (digits <= 57)).all(axis=1)
        values[plain] = np.where(all_digits, (digits.astype(np.int64) - 48) @ _POWERS, _BAD)
    for at in np.flatnonzero((lengths != 10) & (lengths > 0)).tolist():
        values[at] = _parse_other(data[starts[at]:ends[at]])
    shaped = values >= 0
    nanp = ((values // 1_000_000_000) >= 2) & (((values // 1_000_000) % 10) >= 2)
    bad = np.flatnonzero((values == _BAD) | (shaped & ~nanp))
    if len(bad):
        at = int(bad[0])
        line = data[starts[at]:ends[at]]
        problem = ("not a 10-digit number (or area code,number)" if values[at] == _BAD else
                   "not a NANP number (area code and exchange start with 2-9)")
        raise RegistryFileError(source, problem, first_line + at, line)
    return values


def _parse_other(line: bytes) -> int:
    if not line.strip():
        return _BLANK
    match = _VARIANT.fullmatch(line)
    if match is None:
        return _BAD
    return int(match[1]) if match[1] else int(match[2] + match[3])
