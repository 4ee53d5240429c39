"""Contacts from CSV: every bad row named with its row, column and why; numbers
made E.164 by the dialing rules' own parser; duplicates reported."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from outbound.contacts_csv import ContactsCsvError, parse_contacts

NOW = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
HEADER = "number,name,address_state,consent_kind,consent_date,appointment\n"


def _parse(text: str, fields: tuple[str, ...] = ("appointment",),
           known: dict[str, int] | None = None) -> list[str]:
    contacts = parse_contacts(io.StringIO(text), fields, now=NOW, known_numbers=known)
    return [c.number for c in contacts]


def _problems(text: str, fields: tuple[str, ...] = ("appointment",),
              known: dict[str, int] | None = None) -> list[str]:
    with pytest.raises(ContactsCsvError) as caught:
        parse_contacts(io.StringIO(text), fields, now=NOW, known_numbers=known)
    return [str(p) for p in caught.value.problems]


def test_good_rows_become_contacts_with_their_fields_and_consents() -> None:
    text = HEADER + ("+1 (212) 555-0141,Maria,ny,express,2025-11-30,Tue 10:30\n"
                     "\n"
                     "+1-850-555-0172,,FL,,,Wed 11:00\n"
                     "+16025550133,Ana,,EXPRESS_WRITTEN,2025-12-02T09:00:00-05:00,Thu\n")
    contacts = parse_contacts(io.StringIO(text), ["appointment"], now=NOW)
    assert [c.number for c in contacts] == ["+12125550141", "+18505550172", "+16025550133"]
    maria, john, ana = contacts
    assert (maria.source_row, maria.name, maria.address_state) == (2, "Maria", "NY")
    assert (maria.consent_kind, maria.consent_date) == (
        "express", datetime(2025, 11, 30, tzinfo=UTC))
    assert maria.fields == {"appointment": "Tue 10:30"}
    assert (john.source_row, john.name, john.consent_kind, john.consent_date) == (
        4, None, "none", None)
    assert ana.consent_date == datetime(2025, 12, 2, 14, 0, tzinfo=UTC)


def test_each_bad_row_is_named_with_its_column_and_why() -> None:
    text = HEADER + ("2125550141,A,NY,,,x\n"            # no country code: never guessed
                     "+1 800 555 0100,B,NY,,,x\n"       # toll-free: not a callee's line
                     "+44 20 7946 0018,C,,,,x\n"        # not a US number
                     "+12125550142,D,ZZ,,,x\n"
                     "+12125550143,E,NY,spoken,,x\n"
                     "+12125550144,F,NY,express,,x\n"
                     "+12125550145,G,NY,express,2027-01-01,x\n"
                     "+12125550146,H,NY,express,30/11/2025,x\n"
                     "+12125550147,I\n")
    assert _problems(text) == [
        "row 2, column 'number': '2125550141': needs + and the country code, "
        "e.g. +1 202 555 0123",
        "row 3, column 'number': '+1 800 555 0100': line type TOLL_FREE is not a callee's line",
        "row 4, column 'number': '+44 20 7946 0018': not a strict E.164 NANP number "
        "(+1NXXNXXXXXX)",
        "row 5, column 'address_state': 'ZZ' is not a US state's postal code",
        "row 6, column 'consent_kind': 'spoken'; expected none, express, express_written "
        "(empty: none)",
        "row 7, column 'consent_date': a express consent needs its date",
        "row 8, column 'consent_date': 2027-01-01 is in the future",
        "row 9, column 'consent_date': '30/11/2025' is not a date (YYYY-MM-DD) or an ISO 8601 "
        "time",
        "row 10: 2 values for 6 columns",
    ]


def test_duplicates_in_the_file_and_in_the_campaign_are_reported() -> None:
    text = HEADER + ("+12125550141,A,,,,x\n"
                     "+1 212 555 0141,B,,,,x\n"
                     "+12125550150,C,,,,x\n")
    assert _problems(text, known={"+12125550150": 7}) == [
        "row 3, column 'number': +12125550141 is also on row 2",
        "row 4, column 'number': +12125550150 is already in the campaign (from row 7)",
    ]


def test_header_problems_stop_before_any_row() -> None:
    assert _problems("name,apointment\n+12125550141,x\n") == [
        "row 1, column 'apointment': unknown column; expected number, name, address_state, "
        "consent_kind, consent_date, appointment",
        "row 1, column 'number': missing column",
        "row 1, column 'appointment': missing column",
    ]
    assert _problems("") == ["row 1: the file is empty"]
    assert _parse("number\n+12125550141\n", fields=()) == ["+12125550141"]


def test_the_error_lists_problems_with_the_file_name() -> None:
    with pytest.raises(ContactsCsvError) as caught:
        parse_contacts(io.StringIO("number\nx\n"), (), now=NOW, name="c.csv")
    assert str(caught.value).startswith("c.csv: row 2, column 'number': 'x'")
