"""What a campaign call keeps of its flow: the result it set (a short name) and
its detail; and a flow whose menu takes the opt-out key is caught."""

from __future__ import annotations

from pathlib import Path

from callcenter.campaign_calls import _flow_result, _state_keyed
from config import CONFIG_DIR
from dialog.flow_loader import load_flow
from dialog.ports import DialogOutcome, Ending


def _outcome(**variables: object) -> DialogOutcome:
    return DialogOutcome(Ending.COMPLETED, "done", dict(variables))


def test_the_flow_result_and_its_detail_are_kept() -> None:
    assert _flow_result(_outcome(result="rescheduled", result_detail="2026-01-20T10:30"),
                        "c1") == ("rescheduled", "2026-01-20T10:30")
    assert _flow_result(_outcome(result="confirmed"), "c1") == ("confirmed", None)
    assert _flow_result(_outcome(), "c1") == (None, None)
    assert _flow_result(None, "c1") == (None, None)


def test_a_result_that_is_no_short_name_is_dropped() -> None:
    for bad in ("Confirmed!", "a" * 17, 3, ""):
        assert _flow_result(_outcome(result=bad, result_detail="x"), "c1") == (None, None)


def test_a_menu_on_the_opt_out_key_is_found(tmp_path: Path) -> None:
    assert _state_keyed(load_flow(CONFIG_DIR / "flows" / "reminder.yaml"), "9") is None
    text = (CONFIG_DIR / "flows" / "reminder.yaml").read_text()
    (tmp_path / "keyed.yaml").write_text(text.replace(
        "dtmf: 1\n        keywords: [confirm]", "dtmf: 9\n        keywords: [confirm]"))
    assert _state_keyed(load_flow(tmp_path / "keyed.yaml"), "9") == "remind"
