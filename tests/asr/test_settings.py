"""The asr: settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asr.endpointing import EndpointerConfig
from asr.settings import AsrSettings, asr_settings
from callcenter.core.errors import SettingsError
from config import default_settings_path


def test_defaults() -> None:
    settings = asr_settings(None)
    assert settings == AsrSettings()
    assert settings.model is None and settings.window_s == 10
    assert settings.endpointing == EndpointerConfig()


def test_the_shipped_section_is_the_code_defaults() -> None:
    """One definition: config/settings.yaml spells out the defaults, it does not
    change them (a test or tool that builds AsrSettings() gets what ships)."""
    shipped = yaml.safe_load(default_settings_path().read_text(encoding="utf-8"))["asr"]
    assert set(shipped) == set(AsrSettings.model_fields)
    assert asr_settings(shipped) == AsrSettings()


def test_values_and_endpointing() -> None:
    settings = asr_settings({"model": "/models/small", "language": "de", "window_s": 15,
                             "endpointing": {"end_silence_ms_complete": 400,
                                             "no_input_timeout_ms": None}})
    assert settings.model == Path("/models/small")
    config = settings.endpointing
    assert config.end_silence_ms_complete == 400 and config.no_input_timeout_ms is None
    assert config.end_silence_ms_incomplete == EndpointerConfig().end_silence_ms_incomplete


def test_a_bare_yaml_off_is_off() -> None:
    """YAML reads `bias: off` as false; it means "off"."""
    settings = asr_settings({"bias": False, "partials": False})
    assert (settings.bias, settings.partials) == ("off", "off")


@pytest.mark.parametrize(("raw", "named"), [
    ({"window_s": 3}, "asr.window_s"),
    ({"workers": 0}, "asr.workers"),
    ({"vad_aggressiveness": 5}, "asr.vad_aggressiveness"),
    ({"bias": "loud"}, "asr.bias"),
    ({"colour": "red"}, "asr.colour"),
    ({"endpointing": {"start_ms": 500}}, "asr.endpointing"),
    ({"endpointing": {"barge_in_confirm_ms": 0}}, "asr.endpointing.barge_in_confirm_ms"),
    ({"temperatures": []}, "asr"),
])
def test_bad_values_name_the_setting(raw: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError, match=f"'{named}") as info:
        asr_settings(raw, origin="test.yaml:3")
    assert "test.yaml:3" in str(info.value)


def test_the_shipped_asr_section_validates() -> None:
    """Whatever config/settings.yaml ships under asr: is valid."""
    import yaml

    from config import default_settings_path

    shipped = yaml.safe_load(default_settings_path().read_text(encoding="utf-8")) or {}
    asr_settings(shipped.get("asr"), origin=str(default_settings_path()))
