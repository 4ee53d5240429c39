"""``callcenter events CALL_ID``: one call's stored events, oldest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import main
from callcenter.core.call import CallInfo, Direction
from callcenter.core.store import Store

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _store_with_calls(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    store = Store(f"sqlite:///{data_dir / 'callcenter.db'}")
    store.migrate()
    try:
        for call_id in ("abc111", "abc222"):
            store.call_started(CallInfo(call_id=call_id, direction=Direction.INBOUND,
                                        from_uri="sip:1000@127.0.0.1",
                                        to_uri="sip:100@127.0.0.1"), "node-a")
        store.add_event("abc111", "answered", {}, T0 + timedelta(seconds=1))
        store.add_event("abc111", "dtmf", {"digit": "0", "method": "rfc4733"},
                        T0 + timedelta(seconds=2))
        store.add_event("abc111", "transfer", {"target": "queue:front-desk",
                                               "outcome": "accepted"},
                        T0 + timedelta(seconds=3))
    finally:
        store.close()


def test_events_as_json_lines_oldest_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _store_with_calls(data_dir)
    result = CliRunner().invoke(main, ["events", "abc1", "--json", "--data-dir",
                                       str(data_dir)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["kind"], e["data"]) for e in lines] == [
        ("answered", {}),
        ("dtmf", {"digit": "0", "method": "rfc4733"}),
        ("transfer", {"target": "queue:front-desk", "outcome": "accepted"})]
    assert lines[0]["at"] == (T0 + timedelta(seconds=1)).isoformat()
    assert {e["call_id"] for e in lines} == {"abc111"}


def test_events_as_text_and_ambiguous_or_unknown_ids(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _store_with_calls(data_dir)
    runner = CliRunner()
    text = runner.invoke(main, ["events", "abc111", "--data-dir", str(data_dir)])
    assert text.exit_code == 0, text.output
    second = text.stdout.splitlines()[1]
    assert second == '09:30:02.000 dtmf       {"digit": "0", "method": "rfc4733"}'
    ambiguous = runner.invoke(main, ["events", "abc", "--data-dir", str(data_dir)])
    assert ambiguous.exit_code == 1 and "2 calls start with 'abc'" in ambiguous.output
    unknown = runner.invoke(main, ["events", "zzz", "--data-dir", str(data_dir)])
    assert unknown.exit_code == 1 and "no call with id 'zzz'" in unknown.output
