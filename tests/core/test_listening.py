"""The one definition of endpointing: its defaults are what config/settings.yaml ships."""

from __future__ import annotations

import pytest
import yaml

from callcenter.core.listening import EndpointerConfig
from callcenter.core.settings import load_settings
from config import default_settings_path


def shipped_endpointing() -> dict[str, object]:
    shipped = yaml.safe_load(default_settings_path().read_text(encoding="utf-8"))
    section: dict[str, object] = shipped["asr"]["endpointing"]
    return section


def test_the_shipped_file_lists_every_setting_with_the_code_default() -> None:
    shipped = shipped_endpointing()
    assert list(shipped) == list(EndpointerConfig.model_fields)
    assert shipped == EndpointerConfig().model_dump()


def test_a_null_no_input_timeout_is_kept_as_none() -> None:
    settings = load_settings(environ={"CALLCENTER__ASR__ENDPOINTING__NO_INPUT_TIMEOUT_MS": "null"})
    config = EndpointerConfig.model_validate(settings.asr["endpointing"])
    assert config.no_input_timeout_ms is None
    assert config.end_silence_ms_incomplete == EndpointerConfig().end_silence_ms_incomplete


@pytest.mark.parametrize("bad", [
    {"start_ms": 400, "start_window_ms": 300},
    {"max_utterance_ms": 300},
    {"end_silence_ms_incomplete": 0},
    {"barge_in_confirm_ms": 19},
    {"no_input_timeout_ms": -1},
    {"colour": "red"},
])
def test_inconsistent_or_unknown_values_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        EndpointerConfig(**bad)  # type: ignore[arg-type]


def test_it_is_a_value() -> None:
    config = EndpointerConfig(no_input_timeout_ms=None)
    assert config == EndpointerConfig(no_input_timeout_ms=None) != EndpointerConfig()
    assert hash(config) == hash(EndpointerConfig(no_input_timeout_ms=None))
    with pytest.raises(ValueError):
        config.start_ms = 10  # type: ignore[misc]
