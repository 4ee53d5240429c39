"""``callcenter campaign create|import|start|pause|status`` on a real SQLite store:
campaign files checked with file:line, contacts imported whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import main
from callcenter.core.store import Store
from config import CONFIG_DIR

EXAMPLE = CONFIG_DIR / "campaigns" / "reminders.yaml"
CONTACTS = CONFIG_DIR / "campaigns" / "reminders-contacts.csv"


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path / "data")])
    return result.exit_code, result.output


def test_the_shipped_example_creates_imports_and_reports(tmp_path: Path) -> None:
    assert _run(tmp_path, "campaign", "create", str(EXAMPLE)) == (
        0, "warning: clinic-reminders: trunk 'provider' is not among sip.trunks (none "
           "configured); this node will not dial it\ncampaign clinic-reminders created\n")
    code, out = _run(tmp_path, "campaign", "import", "clinic-reminders", str(CONTACTS))
    assert code == 0 and out.endswith("3 contact(s) imported into clinic-reminders "
                                      "(2 with a consent)\n")
    assert _run(tmp_path, "campaign", "start", "clinic-reminders")[0] == 0
    code, out = _run(tmp_path, "campaign", "status", "clinic-reminders", "--json")
    status = json.loads(out.splitlines()[-1])
    assert (status["state"], status["contacts"], status["pending"]) == ("running", 3, 3)
    assert _run(tmp_path, "campaign", "pause", "clinic-reminders")[0] == 0
    store = Store(f"sqlite:///{tmp_path / 'data' / 'callcenter.db'}")
    try:
        record = store.campaigns.campaign("clinic-reminders")
        assert record is not None and record.state == "paused"
        assert record.retry["busy"] == {"delays_s": [600.0, 1800.0], "max_attempts": 3}
        assert store.dnc.strongest_consent("+16025550133", "clinic-reminders") == (
            "express_written")
    finally:
        store.close()


def test_a_bad_campaign_file_names_each_problem_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (EXAMPLE.read_text()
            .replace("message_kind: healthcare_reminder", "message_kind: sales")
            .replace("ring_timeout_s: 25 ", "ring_timeout_s: 10 ")
            .replace('callback_number: "+12025550100"', 'callback_number: "2025550100"')
            .replace("  busy: {delays: [10m, 30m]", "  busy: {delays: [10 minutes]"))
    bad.write_text(text)

    def line_of(needle: str) -> int:
        return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)

    code, out = _run(tmp_path, "campaign", "create", str(bad))
    lines = out.strip().splitlines()
    assert code == 1, out
    assert f"{bad}:{line_of('message_kind: sales')}: message_kind: Input should be " \
           "'healthcare_reminder', 'informational' or 'telemarketing'" in lines[0]
    assert any(line.startswith(f"{bad}:{line_of('callback_number:')}: callback_number: "
                               "'2025550100' needs + and the country code")
               for line in lines), out
    assert any(line.startswith(f"{bad}:{line_of('ring_timeout_s: 10')}: ring_timeout_s: "
                               "Input should be greater than or equal to 15")
               for line in lines), out
    assert any(line.startswith(f"{bad}:{line_of('10 minutes')}: retry.busy.delays: "
                               "'10 minutes' is not a duration")
               for line in lines), out


def test_bad_contacts_import_nothing(tmp_path: Path) -> None:
    _run(tmp_path, "campaign", "create", str(EXAMPLE))
    csv = tmp_path / "c.csv"
    csv.write_text(CONTACTS.read_text() + "+1 212 555 0141,Again,NY,,,x\n555-0100,X,,,,y\n")
    code, out = _run(tmp_path, "campaign", "import", "clinic-reminders", str(csv))
    assert code == 1
    assert f"{csv}: row 5, column 'number': +12125550141 is also on row 2" in out
    assert f"{csv}: row 6, column 'number': '555-0100': needs + and the country code" in out
    code, out = _run(tmp_path, "campaign", "status", "clinic-reminders", "--json")
    assert json.loads(out.splitlines()[-1])["contacts"] == 0
    assert _run(tmp_path, "campaign", "import", "nope", str(csv))[1].endswith(
        "no campaign named 'nope' (campaigns: clinic-reminders)\n")


def test_export_gives_each_contact_its_result_and_last_attempt(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    _run(tmp_path, "campaign", "create", str(EXAMPLE))
    _run(tmp_path, "campaign", "import", "clinic-reminders", str(CONTACTS))
    assert _run(tmp_path, "campaign", "pause", "clinic-reminders")[0] == 0
    assert _run(tmp_path, "campaign", "resume", "clinic-reminders")[1].endswith(
        "campaign clinic-reminders running\n")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'callcenter.db'}")
    now = datetime.now(UTC)
    try:
        first, second = store.campaigns.claim_due("clinic-reminders", now, node="n",
                                                  limit=2, max_in_flight=2)
        store.campaigns.mark_dialing(first.id, now, {"reason": "ok"})
        store.campaigns.finish(first.id, "answered", now, sip_code=200, call_id="c1")
        store.campaigns.mark_dialing(second.id, now, {"reason": "ok"})
        store.campaigns.finish(second.id, "busy", now, sip_code=486,
                               retry_at=now + timedelta(minutes=10))
    finally:
        store.close()
    out = tmp_path / "results.csv"
    assert _run(tmp_path, "campaign", "export", "clinic-reminders", "-o", str(out))[0] == 0
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert rows[0][:6] == ["number", "name", "address_state", "source_row", "result",
                           "result_detail"]
    maria, john, ana = rows[1:]
    assert (maria[0], maria[4], maria[6], maria[7], maria[9], maria[12]) == (
        "+12125550141", "answered", "1", "answered", "200", "c1")
    assert (john[0], john[4], john[6], john[7], john[9]) == ("+18505550172", "", "1", "busy",
                                                            "486")
    assert john[13] == (now + timedelta(minutes=10)).isoformat()
    assert (ana[0], ana[6], ana[7], ana[13] != "") == ("+16025550133", "0", "", True)
