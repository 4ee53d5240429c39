"""``callcenter transcript CALL_ID``: a prompt that was cut says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import main
from callcenter.core.call import CallInfo, Direction
from callcenter.core.store import Store, TurnInput

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
MENU = "You can say reschedule or cancel. Or press zero for the front desk."


def test_a_cut_prompt_shows_what_played_and_where_it_was_cut(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = Store(f"sqlite:///{data_dir / 'callcenter.db'}")
    store.migrate()
    try:
        store.call_started(CallInfo(call_id="def333", direction=Direction.INBOUND,
                                    from_uri="sip:1000@127.0.0.1",
                                    to_uri="sip:100@127.0.0.1"), "node-a")
        store.add_turn("def333", TurnInput(speaker="engine", text="Hello.", started_at=T0,
                                           state="greet"))
        store.add_turn("def333", TurnInput(
            speaker="engine", text="You can say reschedule", state="main_menu",
            started_at=T0 + timedelta(seconds=2),
            data={"cut": "barge_in", "played_s": 1.42, "full_text": MENU}))
    finally:
        store.close()
    result = CliRunner().invoke(main, ["transcript", "def3", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "09:30:00 engine (greet): Hello.",
        "09:30:02 engine (main_menu): You can say reschedule  [cut: barge_in after 1.42 s]"]
