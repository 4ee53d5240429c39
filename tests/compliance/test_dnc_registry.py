"""The National DNC Registry: import of FTC files, snapshots on disk, membership."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from compliance import dnc_registry_file
from compliance.dnc_numbers import DncNumberError, normalize_number, read_number_file
from compliance.dnc_registry import (
    NationalDncList,
    RegistrySnapshotError,
    SnapshotFolder,
    read_snapshot,
    snapshot_path,
)
from compliance.dnc_registry_file import RegistryFileError, import_registry_file

JAN_5, JAN_6 = date(2026, 1, 5), date(2026, 1, 6)


@pytest.fixture
def folder(tmp_path: Path) -> SnapshotFolder:
    return SnapshotFolder.of(tmp_path / "data")


def _file(tmp_path: Path, content: bytes, name: str = "registry.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _import(source: Path, folder: SnapshotFolder, day: date = JAN_5) -> int:
    return import_registry_file(source, day, folder, today=JAN_6).numbers


def test_a_registry_file_becomes_the_current_snapshot(tmp_path: Path,
                                                      folder: SnapshotFolder) -> None:
    source = _file(tmp_path, b"2025550123\n3035550199\n2025550123\n8505550100\n")
    result = import_registry_file(source, JAN_5, folder, today=JAN_6)
    assert (result.numbers, result.number_lines, result.duplicates) == (3, 4, 1)
    assert result.snapshot == snapshot_path(folder.folder, JAN_5)
    assert folder.current_date() == JAN_5
    registry = folder.load_current()
    assert registry is not None and registry.snapshot_date == JAN_5 and len(registry) == 3
    assert registry.numbers().tolist() == [2025550123, 3035550199, 8505550100]
    assert "+12025550123" in registry and registry.contains("+18505550100")
    assert not registry.contains("+12025550124")


def test_crlf_blank_lines_spaces_bom_the_comma_variant_and_no_last_newline(
        tmp_path: Path, folder: SnapshotFolder) -> None:
    source = _file(tmp_path, b"\xef\xbb\xbf2025550123\r\n\r\n  303,5550199 \r\n\n \t\n"
                             b"850,5550100\r\n4155550123")
    assert _import(source, folder) == 4
    registry = folder.load_current()
    assert registry is not None
    assert registry.numbers().tolist() == [2025550123, 3035550199, 4155550123, 8505550100]


@pytest.mark.parametrize(("content", "line_number", "problem"), [
    (b"2025550123\n12345\n", 2, "not a 10-digit number"),
    (b"2025550123\r\n\r\n20255501a3\r\n", 3, "not a 10-digit number"),
    (b"2025550123\n202-555-0124\n", 2, "not a 10-digit number"),
    (b"2025550123\n\n\n0125550123", 4, "not a NANP number"),
    (b"2021550123\n", 1, "not a NANP number"),
    (b"+12025550123\n", 1, "not a 10-digit number"),
])
def test_a_bad_line_is_named_and_nothing_is_imported(
        tmp_path: Path, folder: SnapshotFolder, content: bytes, line_number: int,
        problem: str) -> None:
    _import(_file(tmp_path, b"9195550100\n", "old.txt"), folder, date(2026, 1, 1))
    with pytest.raises(RegistryFileError) as error:
        _import(_file(tmp_path, content), folder)
    assert error.value.line_number == line_number
    assert f"line {line_number}: {problem}" in str(error.value)
    assert "nothing was imported" in str(error.value)
    # The earlier snapshot is still current, whole, and nothing else is in the folder.
    assert [p.name for p in folder.folder.iterdir()] == ["national-2026-01-01.dnc"]
    registry = folder.load_current()
    assert registry is not None and registry.numbers().tolist() == [9195550100]


def test_bad_lines_are_found_across_chunks(tmp_path: Path, folder: SnapshotFolder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnc_registry_file, "CHUNK_BYTES", 7)  # lines split between reads
    numbers = [2025550100 + i for i in range(50)]
    good = "".join(f"{n}\r\n" for n in numbers).encode()
    assert _import(_file(tmp_path, good), folder) == 50
    registry = folder.load_current()
    assert registry is not None and registry.numbers().tolist() == numbers
    bad = good + b"303,555019\r\n"
    with pytest.raises(RegistryFileError, match="line 51:"):
        _import(_file(tmp_path, bad), folder, JAN_6)


def test_progress_reports_bytes_read(tmp_path: Path, folder: SnapshotFolder,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnc_registry_file, "CHUNK_BYTES", 22)
    source = _file(tmp_path, b"2025550123\n" * 5)
    seen: list[int] = []
    import_registry_file(source, JAN_5, folder, today=JAN_6, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 55


def test_an_empty_file_a_long_line_and_a_future_date_are_refused(
        tmp_path: Path, folder: SnapshotFolder) -> None:
    with pytest.raises(RegistryFileError, match="no numbers"):
        _import(_file(tmp_path, b"\n\r\n"), folder)
    with pytest.raises(RegistryFileError, match="line 2: line too long"):
        _import(_file(tmp_path, b"2025550123\n" + b"9" * 5000), folder)
    with pytest.raises(RegistryFileError, match="later than today"):
        import_registry_file(_file(tmp_path, b"2025550123\n"), date(2026, 1, 7), folder,
                             today=JAN_6)
    assert folder.current_date() is None and folder.load_current() is None


def test_a_newer_snapshot_replaces_older_ones(tmp_path: Path, folder: SnapshotFolder) -> None:
    _import(_file(tmp_path, b"2025550123\n"), folder, date(2026, 1, 1))
    result = import_registry_file(_file(tmp_path, b"3035550199\n"), JAN_5, folder,
                                  today=JAN_6)
    assert result.dropped == (date(2026, 1, 1),)
    registry = folder.load_current()
    assert registry is not None and registry.snapshot_date == JAN_5
    assert registry.contains("+13035550199") and not registry.contains("+12025550123")
    assert registry.age_days(date(2026, 2, 6)) == 32


def test_a_damaged_snapshot_is_refused(tmp_path: Path, folder: SnapshotFolder) -> None:
    path = import_registry_file(_file(tmp_path, b"2025550123\n3035550199\n"), JAN_5, folder,
                                today=JAN_6).snapshot
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistrySnapshotError, match="checksum"):
        read_snapshot(path)
    path.write_bytes(bytes(data[:-2]))
    with pytest.raises(RegistrySnapshotError, match="bytes, expected"):
        folder.load_current()
    path.write_bytes(b"not a snapshot")
    with pytest.raises(RegistrySnapshotError, match="not a DNC snapshot"):
        read_snapshot(path)


def test_scalar_and_batch_membership_agree() -> None:
    rng = np.random.default_rng(3)
    listed = rng.integers(200, 1000, 20_000) * 10_000_000 + rng.integers(2_000_000, 10_000_000,
                                                                          20_000)
    registry = NationalDncList.from_numbers(listed, JAN_5)
    others = rng.integers(2_000_000_000, 10_000_000_000, 20_000)
    asked = np.concatenate([listed, others, [0, -1, 1_999_999_999, 10_000_000_000]])
    batch = registry.contains_many(asked)
    scalar = [registry.contains_ten_digits(int(n)) for n in asked]
    assert batch.tolist() == scalar
    assert batch[:len(listed)].all() and not batch[-4:].any()
    assert batch[len(listed):].sum() == np.isin(others, listed).sum()
    e164 = [f"+1{n}" for n in asked[:100]] + ["+442071234567", "2025550123", "+1202555012x"]
    assert registry.contains_many_e164(e164).tolist() == [registry.contains(n) for n in e164]


def test_an_empty_list_lists_nothing() -> None:
    registry = NationalDncList.from_numbers([], JAN_5)
    assert len(registry) == 0 and not registry.contains("+12025550123")
    assert registry.contains_many([2025550123]).tolist() == [False]


@pytest.mark.parametrize(("text", "e164"), [
    ("2025550123", "+12025550123"),
    ("+1 (202) 555-0123", "+12025550123"),
    ("202,5550123", "+12025550123"),
    ("202.555.0123", "+12025550123"),
    ("+44 20 7123 4567", "+442071234567"),
])
def test_numbers_are_kept_in_e164(text: str, e164: str) -> None:
    assert normalize_number(text) == e164


@pytest.mark.parametrize(("text", "problem"), [
    ("hello", "is not a phone number"),
    ("12345", "not a possible phone number"),
    ("0125550123", "not a NANP number"),
    ("", "is not a phone number"),
])
def test_a_bad_number_is_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(DncNumberError, match=problem):
        normalize_number(text)


def test_a_list_file_names_its_bad_line(tmp_path: Path) -> None:
    good = _file(tmp_path, "\ufeff+12025550123\n\n(303) 555-0199\r\n".encode())
    assert read_number_file(good) == ["+12025550123", "+13035550199"]
    with pytest.raises(DncNumberError, match="line 3: 'x' is not a phone number"):
        read_number_file(_file(tmp_path, b"2025550123\n\nx\n"))
