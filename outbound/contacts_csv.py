"""Contacts of a campaign from a CSV file, every bad row reported.

Columns (header row first, names in any order):

- ``number``: written with ``+`` and the country code (``+1 (202) 555-0123``);
  made strict E.164 by libphonenumber and checked by the dialing rules'
  number check (``compliance.numbers.parse_callee``): never guessed;
- ``name`` (optional), ``address_state`` (optional, a US postal code:
  ``FL``, ``PR``);
- ``consent_kind``: ``none`` (or empty), ``express`` or ``express_written``,
  and ``consent_date`` (``2025-11-30`` or an ISO 8601 time with its offset),
  needed when there is a consent and not in the future;
- one column per ``contact_fields`` of the campaign (e.g. ``appointment``):
  what the flow reads; every one of them must be in the header.

`read_contacts` reads the whole file and raises `ContactsCsvError` listing
every problem (row number, header = row 1; column; why), including a number
that appears twice (in the file, or already in the campaign): so a file is
imported whole or not at all.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from callcenter.core.errors import CallCenterError
from callcenter.core.store import CONSENT_KINDS, ContactInput
from compliance.numbers import NumberProblem, parse_callee
from compliance.us_states import is_us_state
from outbound.campaign_spec import BASE_COLUMNS

#: At most this many problems are listed; the rest are counted.
MAX_LISTED = 50


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a contacts file: where (row, column) and why."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.message}"


class ContactsCsvError(CallCenterError):
    """A contacts file that cannot be imported; ``problems`` says where and why."""

    def __init__(self, path: Path | str, problems: Sequence[RowProblem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        listed = "\n".join(f"{self.path}: {p}" for p in self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        super().__init__(listed + (f"\n... and {more} more problem(s)" if more > 0 else ""))


def read_contacts(path: Path, contact_fields: Sequence[str], *, now: datetime,
                  known_numbers: Mapping[str, int] | None = None,
                  on_row: Callable[[], object] | None = None) -> list[ContactInput]:
    """Every contact of the CSV file at ``path``, or `ContactsCsvError`.

    ``known_numbers`` (number -> row) are already in the campaign: listing
    one again is a problem. ``on_row`` is called after each row (a progress
    bar). ``now`` bounds consent dates.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return parse_contacts(handle, contact_fields, now=now, known_numbers=known_numbers,
                                  on_row=on_row, name=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ContactsCsvError(path, [RowProblem(1, "", f"cannot read the file: {exc}")]) from None


def parse_contacts(lines: Iterable[str], contact_fields: Sequence[str], *, now: datetime,
                   known_numbers: Mapping[str, int] | None = None,
                   on_row: Callable[[], object] | None = None,
                   name: str = "<contacts>") -> list[ContactInput]:
    """`read_contacts` on lines of CSV text already open."""
    reader = csv.reader(lines)
    problems: list[RowProblem] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ContactsCsvError(name, [RowProblem(1, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise ContactsCsvError(name, [RowProblem(1, "", f"not CSV: {exc}")]) from None
    problems += _header_problems(header, contact_fields)
    if problems:
        raise ContactsCsvError(name, problems)
    seen: dict[str, int] = dict(known_numbers or {})
    in_campaign = set(seen)
    contacts: list[ContactInput] = []
    row = 1
    try:
        for row, values in enumerate(reader, start=2):
            if on_row is not None:
                on_row()
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                problems.append(RowProblem(row, "", f"{len(values)} values for "
                                                    f"{len(header)} columns"))
                continue
            cells = {h: v.strip() for h, v in zip(header, values, strict=True)}
            contact, found = _contact(row, cells, contact_fields, now)
            problems += found
            if contact is None:
                continue
            first = seen.get(contact.number)
            if first is not None:
                problems.append(RowProblem(row, "number", (
                    f"{contact.number} is already in the campaign (from row {first})"
                    if contact.number in in_campaign else
                    f"{contact.number} is also on row {first}")))
                continue
            seen[contact.number] = row
            contacts.append(contact)
    except csv.Error as exc:
        problems.append(RowProblem(row + 1, "", f"not CSV: {exc}"))
    if problems:
        raise ContactsCsvError(name, problems)
    return contacts


def _header_problems(header: list[str], contact_fields: Sequence[str]) -> list[RowProblem]:
    problems = []
    allowed = set(BASE_COLUMNS) | set(contact_fields)
    for column in header:
        if column not in allowed:
            problems.append(RowProblem(1, column, "unknown column; expected "
                                       + ", ".join([*BASE_COLUMNS, *contact_fields])))
        elif header.count(column) > 1:
            problems.append(RowProblem(1, column, "column given twice"))
    for column in ("number", *contact_fields):
        if column not in header:
            problems.append(RowProblem(1, column, "missing column"))
    return list(dict.fromkeys(problems))


def _contact(row: int, cells: Mapping[str, str], contact_fields: Sequence[str],
             now: datetime) -> tuple[ContactInput | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    number = parse_callee(cells["number"])
    if isinstance(number, NumberProblem):
        problems.append(RowProblem(row, "number", f"{cells['number']!r}: {number.detail}"))
    state = cells.get("address_state", "").upper() or None
    if state is not None and not is_us_state(state):
        problems.append(RowProblem(row, "address_state",
                                   f"{cells['address_state']!r} is not a US state's postal code"))
    kind = cells.get("consent_kind", "").lower() or "none"
    given: datetime | None = None
    if kind not in CONSENT_KINDS:
        problems.append(RowProblem(row, "consent_kind", f"{cells['consent_kind']!r}; expected "
                                   + ", ".join(CONSENT_KINDS) + " (empty: none)"))
    raw_date = cells.get("consent_date", "")
    if raw_date:
        given, why = _consent_date(raw_date, now)
        if why is not None:
            problems.append(RowProblem(row, "consent_date", why))
    elif kind != "none" and kind in CONSENT_KINDS:
        problems.append(RowProblem(row, "consent_date", f"a {kind} consent needs its date"))
    if problems or isinstance(number, NumberProblem):
        return None, problems
    return ContactInput(number=number.e164, source_row=row, name=cells.get("name") or None,
                        address_state=state, fields={f: cells[f] for f in contact_fields},
                        consent_kind=kind, consent_date=given if kind != "none" else None), []


def _consent_date(text: str, now: datetime) -> tuple[datetime | None, str | None]:
    try:
        if len(text) == 10:
            given = datetime.combine(date.fromisoformat(text), time(), UTC)
        else:
            given = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
    if given.tzinfo is None:
        return None, f"{text!r} has no UTC offset; add one (e.g. +00:00) or give a date"
    if given > now:
        return None, f"{text} is in the future"
    return given.astimezone(UTC), None
