"""``callcenter outbound check``: the contract for tests and auditors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from callcenter.cli import main
from compliance.dial_case import Consent, MessageKind
from compliance.dial_facts import EmptyDialFacts

SPEC_EXAMPLE: dict[str, Any] = {
    "callee_e164": "+18505550100", "callee_address_state": "FL",
    "now_utc": "2026-01-13T13:30:00Z", "recent_attempts": ["2026-01-12T20:00:00Z"],
    "on_national_dnc": False, "on_internal_dnc": False, "consent": "express_written",
    "message_kind": "telemarketing", "campaign": "c1",
}


@pytest.fixture(autouse=True)
def _empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check reads the stores of a fresh data folder: no lists, no snapshot."""
    monkeypatch.setenv("CALLCENTER__NODE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CALLCENTER__STORE__URL", raising=False)


def _check(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["outbound", "check", *args], input=stdin)


def _answer(document: dict[str, Any]) -> dict[str, Any]:
    result = _check("--case-json", json.dumps(document))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    answer: dict[str, Any] = json.loads(lines[0])
    return answer


@pytest.mark.parametrize(("changes", "reason", "rule_id"), [
    # The registry snapshot is not in the example, and the empty stores have none.
    ({}, "national_dnc", "dnc.national.snapshot_missing"),
    ({"national_dnc_snapshot_date": "2026-01-01"}, "multi_timezone_unsafe",
     "house.multi_timezone"),
    ({"consent": "express", "message_kind": "informational"}, "multi_timezone_unsafe",
     "house.multi_timezone"),
    ({"consent": "none", "message_kind": "informational"}, "no_consent",
     "consent.informational"),
    # The attempt of 20:00Z yesterday is 17.5 hours old.
    ({"consent": "none", "message_kind": "healthcare_reminder"}, "frequency_cap",
     "cap.healthcare.24h"),
    ({"consent": "none", "message_kind": "healthcare_reminder", "recent_attempts": [],
      "now_utc": "2026-01-13T14:00:00Z"}, "ok", "ok"),
    ({"callee_e164": "+14165550100"}, "invalid_number", "number.not_us"),
    ({"callee_e164": "850-555-0100"}, "invalid_number", "number.e164"),
])
def test_spec_example_and_variants(changes: dict[str, Any], reason: str, rule_id: str) -> None:
    answer = _answer(SPEC_EXAMPLE | changes)
    assert (answer["reason"], answer["rule_id"]) == (reason, rule_id)
    assert answer["allowed"] is (reason == "ok")


def test_answer_shows_zones_local_times_and_the_case() -> None:
    answer = _answer(SPEC_EXAMPLE | {"national_dnc_snapshot_date": "2026-01-01"})
    assert answer["zones"] == ["America/Chicago", "America/New_York"]
    assert answer["local_times"] == {"America/Chicago": "2026-01-13T07:30:00-06:00",
                                     "America/New_York": "2026-01-13T08:30:00-05:00"}
    assert answer["zone_verdicts"]["America/Chicago"]["reason"] == "calling_hours"
    assert answer["states"] == ["FL"]
    assert answer["from_store"] == []
    assert answer["case"] == SPEC_EXAMPLE | {"national_dnc_snapshot_date": "2026-01-01"}


def test_the_clock_is_now_utc_never_the_wall_clock() -> None:
    # Ten years on, the same case still gets the same answer.
    old = SPEC_EXAMPLE | {"now_utc": "2016-01-12T15:00:00Z", "recent_attempts": [],
                          "national_dnc_snapshot_date": "2016-01-01"}
    answer = _answer(old)
    assert answer["reason"] == "ok"
    assert answer["local_times"]["America/New_York"] == "2016-01-12T10:00:00-05:00"


def test_case_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(SPEC_EXAMPLE), encoding="utf-8")
    from_file = _check("--case-file", str(path))
    from_stdin = _check("--case-file", "-", stdin=json.dumps(SPEC_EXAMPLE))
    assert from_file.exit_code == from_stdin.exit_code == 0
    assert json.loads(from_file.stdout) == json.loads(from_stdin.stdout)
    assert json.loads(from_file.stdout)["reason"] == "national_dnc"


@pytest.mark.parametrize(("document", "named"), [
    (SPEC_EXAMPLE | {"callee_name": "Ann"}, "callee_name"),
    (SPEC_EXAMPLE | {"now_utc": "yesterday"}, "now_utc"),
    (SPEC_EXAMPLE | {"now_utc": "2026-01-13T13:30:00"}, "now_utc"),       # no offset
    (SPEC_EXAMPLE | {"recent_attempts": ["2026-13-01T00:00:00Z"]}, "recent_attempts"),
    (SPEC_EXAMPLE | {"recent_attempts": "2026-01-12T20:00:00Z"}, "recent_attempts"),
    (SPEC_EXAMPLE | {"message_kind": "robocall"}, "message_kind"),
    (SPEC_EXAMPLE | {"consent": "implied"}, "consent"),
    (SPEC_EXAMPLE | {"on_internal_dnc": "false"}, "on_internal_dnc"),
    (SPEC_EXAMPLE | {"on_national_dnc": None}, "on_national_dnc"),
    (SPEC_EXAMPLE | {"callee_address_state": "Ontario"}, "callee_address_state"),
    (SPEC_EXAMPLE | {"national_dnc_snapshot_date": "Jan 1"}, "national_dnc_snapshot_date"),
    (SPEC_EXAMPLE | {"callee_e164": 18505550100}, "callee_e164"),
    (SPEC_EXAMPLE | {"campaign": ""}, "campaign"),
    ({k: v for k, v in SPEC_EXAMPLE.items() if k != "campaign"}, "campaign"),
    ({k: v for k, v in SPEC_EXAMPLE.items() if k != "now_utc"}, "now_utc"),
])
def test_bad_input_exits_2_naming_the_field(document: dict[str, Any], named: str) -> None:
    result = _check("--case-json", json.dumps(document))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{named}:" in result.stderr


@pytest.mark.parametrize("text", ["{", "[1, 2]", "null"])
def test_not_a_json_object_exits_2(text: str) -> None:
    result = _check("--case-json", text)
    assert result.exit_code == 2
    assert "case:" in result.stderr


@pytest.mark.parametrize("args", [[], ["--case-json", "{}", "--case-file", "-"]])
def test_exactly_one_source(args: list[str]) -> None:
    result = _check(*args, stdin="{}")
    assert result.exit_code == 2
    assert "exactly one of --case-json and --case-file" in result.stderr


class _Facts(EmptyDialFacts):
    """Stores that know a little: on the internal list, written consent, one call."""

    asked: list[tuple[str, str, MessageKind, datetime]]

    def __init__(self) -> None:
        self.asked = []

    def on_internal_dnc(self, callee_e164: str) -> bool:
        return True

    def national_dnc_snapshot_date(self) -> date | None:
        return date(2026, 1, 10)

    def consent(self, callee_e164: str, campaign: str) -> Consent:
        return Consent.EXPRESS_WRITTEN

    def recent_attempts(self, callee_e164: str, campaign: str, kind: MessageKind,
                        since: datetime) -> Sequence[datetime]:
        self.asked.append((callee_e164, campaign, kind, since))
        return (datetime.fromisoformat("2026-01-13T09:00:00Z"),)

    def address_state(self, callee_e164: str, campaign: str) -> str | None:
        return "TX"


def test_absent_fields_come_from_the_stores_present_ones_override(
        monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _Facts()
    monkeypatch.setattr("callcenter.outbound_cli.dial_facts",
                        lambda config_file, data_dir: contextlib.nullcontext(facts))
    asked = {k: SPEC_EXAMPLE[k] for k in ("callee_e164", "now_utc", "message_kind",
                                          "campaign")}
    answer = _answer(asked)
    assert answer["reason"] == "internal_dnc"
    assert sorted(answer["from_store"]) == sorted([
        "callee_address_state", "recent_attempts", "on_national_dnc",
        "national_dnc_snapshot_date", "on_internal_dnc", "consent"])
    assert answer["case"]["callee_address_state"] == "TX"
    assert answer["case"]["recent_attempts"] == ["2026-01-13T09:00:00Z"]
    assert facts.asked == [("+18505550100", "c1", MessageKind.TELEMARKETING,
                            datetime.fromisoformat("2026-01-06T13:30:00Z"))]

    overridden = _answer(asked | {"on_internal_dnc": False, "callee_address_state": None,
                                  "now_utc": "2026-01-13T15:00:00Z"})
    assert overridden["reason"] == "ok"
    assert "on_internal_dnc" not in overridden["from_store"]
    assert overridden["case"]["consent"] == "express_written"        # from the store
    assert overridden["states"] == ["FL"]
