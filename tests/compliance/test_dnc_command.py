"""``callcenter dnc add|remove|import|check``, and ``outbound check`` reading the same stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from callcenter.cli import main
from callcenter.core.store import Store

NUMBER = "+12125550100"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _run(data_dir: Path, *args: str) -> Result:
    command, rest = args[0], args[1:]
    return CliRunner().invoke(main, ["dnc", command, "--data-dir", str(data_dir), *rest])


def _check(data_dir: Path, *args: str) -> dict[str, Any]:
    result = _run(data_dir, "check", *args)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _store(data_dir: Path) -> Store:
    store = Store(f"sqlite:///{data_dir / 'callcenter.db'}")
    store.migrate()
    return store


def test_add_check_remove_with_an_audit_trail(data_dir: Path) -> None:
    added = _run(data_dir, "add", "(212) 555-0100", "--reason", "asked on the phone",
                 "--actor", "ann")
    assert added.exit_code == 0, added.output
    assert added.stdout == f"{NUMBER} added to the internal do-not-call list\n"
    again = _run(data_dir, "add", NUMBER)
    assert again.exit_code == 0 and "already on the internal do-not-call list" in again.stdout

    answer = _check(data_dir, "212-555-0100", "--today", "2026-01-13")
    assert answer["number"] == NUMBER and answer["internal"] is True
    assert answer["internal_entry"]["reason"] == "asked on the phone"
    assert answer["internal_entry"]["source"] == "cli"
    assert (answer["national"], answer["snapshot_date"], answer["snapshot_age_days"],
            answer["snapshot_stale"]) == (False, None, None, True)
    assert answer["consent"] == "none" and answer["consents"] == []

    removed = _run(data_dir, "remove", NUMBER, "--reason", "typo", "--actor", "bob")
    assert removed.exit_code == 0 and "removed" in removed.stdout
    missing = _run(data_dir, "remove", NUMBER)
    assert missing.exit_code == 1 and "is not on the internal do-not-call list" in missing.stderr
    assert _check(data_dir, NUMBER)["internal"] is False

    store = _store(data_dir)
    assert [(a.action, a.actor, a.source, a.reason) for a in store.dnc.audit(NUMBER)] == [
        ("add", "ann", "cli", "asked on the phone"), ("remove", "bob", "cli", "typo")]
    store.close()


@pytest.mark.parametrize("command", ["add", "remove", "check"])
def test_a_bad_number_exits_2_saying_why(data_dir: Path, command: str) -> None:
    result = _run(data_dir, command, "12345")
    assert result.exit_code == 2
    assert "'12345' is not a possible phone number" in result.stderr


def test_import_a_registry_file_and_check_against_it(data_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry.txt"
    registry.write_bytes(b"2125550100\r\n303,5550199\r\n2125550100\r\n")
    result = _run(data_dir, "import", str(registry), "--date", "2026-01-05")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary | {"snapshot": None} == {
        "list": "national", "file": str(registry), "snapshot_date": "2026-01-05",
        "numbers": 2, "duplicates": 1, "snapshot": None, "dropped_snapshots": []}
    assert Path(summary["snapshot"]).parent == data_dir / "dnc"

    answer = _check(data_dir, NUMBER, "--today", "2026-02-05")
    assert (answer["internal"], answer["national"], answer["snapshot_date"],
            answer["snapshot_age_days"], answer["snapshot_stale"]) == (
        False, True, "2026-01-05", 31, False)
    assert _check(data_dir, NUMBER, "--today", "2026-02-06")["snapshot_stale"] is True
    assert _check(data_dir, "+13035550198", "--today", "2026-01-06")["national"] is False


def test_a_bad_registry_line_is_named_and_nothing_changes(data_dir: Path,
                                                          tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("2125550100\n")
    bad.write_text("3035550199\n\n30355501\n")
    assert _run(data_dir, "import", str(good), "--date", "2026-01-05").exit_code == 0
    result = _run(data_dir, "import", str(bad), "--date", "2026-01-06")
    assert result.exit_code == 1
    assert "line 3: not a 10-digit number" in result.stderr
    assert "nothing was imported" in result.stderr
    assert _check(data_dir, NUMBER)["snapshot_date"] == "2026-01-05"
    assert [p.name for p in (data_dir / "dnc").iterdir()] == ["national-2026-01-05.dnc"]


def test_import_needs_the_date_for_the_registry_and_refuses_it_for_the_internal_list(
        data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    source.write_text("2125550100\n")
    without = _run(data_dir, "import", str(source))
    assert without.exit_code == 2 and "--date YYYY-MM-DD" in without.stderr
    both = _run(data_dir, "import", str(source), "--internal", "--date", "2026-01-05")
    assert both.exit_code == 2 and "not with --internal" in both.stderr
    bad_date = _run(data_dir, "import", str(source), "--date", "05/01/2026")
    assert bad_date.exit_code == 2


def test_import_onto_the_internal_list(data_dir: Path, tmp_path: Path) -> None:
    _run(data_dir, "add", NUMBER)
    source = tmp_path / "opt-outs.txt"
    source.write_text("212 555 0100\n+13035550199\n\n303,5550198\n")
    result = _run(data_dir, "import", str(source), "--internal", "--reason", "old CRM",
                  "--actor", "ann")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"list": "internal", "file": str(source),
                                         "numbers": 3, "added": 2, "already_listed": 1}
    answer = _check(data_dir, "+13035550198")
    assert answer["internal"] and answer["internal_entry"]["source"] == "import"

    source.write_text("+19195550100\nnot a number\n")
    failed = _run(data_dir, "import", str(source), "--internal")
    assert failed.exit_code == 1 and "line 2:" in failed.stderr
    assert "nothing was imported" in failed.stderr
    assert _check(data_dir, "+19195550100")["internal"] is False


def test_check_shows_consent_for_a_campaign(data_dir: Path) -> None:
    store = _store(data_dir)
    store.dnc.add_consent(NUMBER, "express", source="ivr", evidence="call 5")
    store.dnc.add_consent(NUMBER, "express_written", source="web", evidence="form 8",
                          campaign="spring")
    store.close()
    assert _check(data_dir, NUMBER)["consent"] == "express"
    answer = _check(data_dir, NUMBER, "--campaign", "spring")
    assert answer["consent"] == "express_written" and answer["campaign"] == "spring"
    assert [c["evidence"] for c in answer["consents"]] == ["call 5", "form 8"]


def test_outbound_check_reads_the_same_stores(data_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry.txt"
    registry.write_text("2125550100\n")
    assert _run(data_dir, "import", str(registry), "--date", "2026-01-10").exit_code == 0

    def outbound(kind: str) -> dict[str, Any]:
        case = {"callee_e164": NUMBER, "now_utc": "2026-01-13T15:00:00Z",
                "message_kind": kind, "campaign": "c1"}
        result = CliRunner().invoke(main, ["outbound", "check", "--data-dir", str(data_dir),
                                           "--case-json", json.dumps(case)])
        assert result.exit_code == 0, result.output
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    listed = outbound("telemarketing")
    assert (listed["reason"], listed["rule_id"]) == ("national_dnc", "dnc.national.listed")
    assert listed["case"]["national_dnc_snapshot_date"] == "2026-01-10"
    store = _store(data_dir)
    store.dnc.add_consent(NUMBER, "express_written", source="web", evidence="form 3")
    store.close()
    assert outbound("telemarketing")["reason"] == "ok"
    assert outbound("healthcare_reminder")["reason"] == "ok"
    assert _run(data_dir, "add", NUMBER, "--reason", "opted out").exit_code == 0
    assert outbound("healthcare_reminder")["reason"] == "internal_dnc"
