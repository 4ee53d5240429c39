"""How the node's endpointing settings reach a dialog state's listening (no calls)."""

from __future__ import annotations

from callcenter.core.listening import EndpointerConfig
from callcenter.core.settings import load_settings
from callcenter.dialog_service import DialogService


def node_defaults(**environ: str) -> EndpointerConfig:
    settings = load_settings(environ=environ)
    service = DialogService(settings, store=None, journal=None)  # type: ignore[arg-type]
    return service.listen_defaults.endpointing


def test_the_node_hands_its_whole_endpointing_to_the_dialog() -> None:
    assert node_defaults() == EndpointerConfig()
    assert node_defaults(CALLCENTER__ASR__ENDPOINTING__PREROLL_MS="120").preroll_ms == 120


def test_a_null_no_input_timeout_stays_null() -> None:
    """It used to become 6000 ms on the way to the dialog."""
    got = node_defaults(CALLCENTER__ASR__ENDPOINTING__NO_INPUT_TIMEOUT_MS="null")
    assert got.no_input_timeout_ms is None
