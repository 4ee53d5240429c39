"""The tts: settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callcenter.core.errors import SettingsError
from callcenter.core.machine import usable_cores
from callcenter.core.settings import load_settings
from config import default_settings_path
from tts.settings import TtsSettings


def test_defaults_fill_the_machine_s_cores() -> None:
    settings = load_settings(environ={}).section("tts", TtsSettings)
    assert settings.voice is None
    assert settings.workers * settings.intra_op_threads == usable_cores()
    assert settings.cache_path(Path("/data")) == Path("/data/tts-cache")


def test_the_shipped_section_is_the_code_defaults() -> None:
    """One definition: config/settings.yaml spells out the defaults, it does not
    change them."""
    shipped = yaml.safe_load(default_settings_path().read_text(encoding="utf-8"))["tts"]
    assert set(shipped) == set(TtsSettings.model_fields)
    assert TtsSettings.model_validate(shipped) == TtsSettings()


def test_cache_dir_and_disk_switch() -> None:
    assert TtsSettings(cache_dir=Path("/c")).cache_path(Path("/data")) == Path("/c")
    assert TtsSettings(cache_disk_mb=0).cache_path(Path("/data")) is None
    assert TtsSettings().cache_path(None) is None


def test_bad_value_names_the_setting() -> None:
    env = {"CALLCENTER__TTS__WORKERS": "0"}
    with pytest.raises(SettingsError, match="tts.workers.*CALLCENTER__TTS__WORKERS"):
        load_settings(environ=env).section("tts", TtsSettings)
    env = {"CALLCENTER__TTS__SPEAKING_RATE": "1.2"}
    with pytest.raises(SettingsError, match="tts.speaking_rate"):
        load_settings(environ=env).section("tts", TtsSettings)
