"""Settings: shipped defaults, user file, environment, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.errors import SettingsError
from callcenter.core.settings import load_settings


def test_shipped_defaults_are_valid() -> None:
    settings = load_settings(environ={})
    assert settings.sip.codecs == ["PCMU", "PCMA", "G722"]
    assert settings.events.backend == "memory"
    assert settings.store_url.startswith("sqlite:///")
    assert settings.recordings_dir == settings.node.data_dir / "recordings"


def test_user_file_environment_and_overrides_merge_in_order(tmp_path: Path) -> None:
    user = tmp_path / "site.yaml"
    user.write_text("sip:\n  port: 5070\n  numbers: [100, '+15551234']\nnode:\n  name: a\n")
    settings = load_settings(user, environ={"CALLCENTER__NODE__NAME": "b",
                                            "CALLCENTER__SIP__MAX_CALLS": "2"},
                             overrides={"sip.host": "127.0.0.1"})
    assert settings.sip.port == 5070
    assert settings.sip.numbers == ["100", "+15551234"]
    assert settings.node.name == "b"
    assert settings.sip.max_calls == 2
    assert settings.sip.host == "127.0.0.1"
    assert settings.sip.transports == ["udp", "tcp"]  # untouched defaults survive


def test_bad_value_names_setting_file_and_line(tmp_path: Path) -> None:
    user = tmp_path / "site.yaml"
    user.write_text("# site\nsip:\n  port: 5070\n  codecs: [PCMU, OPUS]\n")
    with pytest.raises(SettingsError) as err:
        load_settings(user, environ={})
    message = str(err.value)
    assert "'sip.codecs'" in message and f"{user}:4" in message and "OPUS" in message


def test_unknown_setting_is_refused_with_its_line(tmp_path: Path) -> None:
    user = tmp_path / "site.yaml"
    user.write_text("sip:\n  port: 5070\n  prot: 5080\n")
    with pytest.raises(SettingsError, match=rf"'sip.prot' \({user}:3\).*Extra inputs"):
        load_settings(user, environ={})


def test_jitter_buffer_needs_room_above_its_prefetch(tmp_path: Path) -> None:
    user = tmp_path / "site.yaml"
    user.write_text("sip:\n  jitter_buffer_prefetch_ms: 100\n  jitter_buffer_max_ms: 150\n")
    with pytest.raises(SettingsError, match=rf"'sip.jitter_buffer_max_ms' \({user}:3\).*twice"):
        load_settings(user, environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CALLCENTER__SIP__PORT"):
        load_settings(environ={"CALLCENTER__SIP__PORT": "many"})


def test_bad_yaml_and_missing_file_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("sip:\n  port: [5070\n")
    with pytest.raises(SettingsError, match=r"broken.yaml:\d+ is not valid YAML"):
        load_settings(broken, environ={})
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_trunk_settings(tmp_path: Path) -> None:
    user = tmp_path / "trunk.yaml"
    user.write_text("sip:\n  trunks:\n    - name: prov\n      registrar: sip:pbx.example\n"
                    "      username: alice\n      register: false\n      bogus: 1\n")
    with pytest.raises(SettingsError, match=rf"'sip.trunks.0.bogus' \({user}:7\)"):
        load_settings(user, environ={})
    user.write_text("sip:\n  trunks:\n    - name: prov\n      registrar: sip:pbx.example\n"
                    "      register: false\n")
    trunk = load_settings(user, environ={}).sip.trunks[0]
    assert trunk.registration is False and trunk.realm == "*"


def test_package_sections_are_validated_with_file_and_line(tmp_path: Path) -> None:
    from pydantic import BaseModel, ConfigDict

    class Voice(BaseModel):
        model_config = ConfigDict(extra="ignore")
        prefetch: int = 0

    user = tmp_path / "site.yaml"
    user.write_text("tts:\n  prefetch: many\n")
    settings = load_settings(user, environ={})
    with pytest.raises(SettingsError, match=rf"'tts.prefetch' \({user}:2\)"):
        settings.section("tts", Voice)
    assert load_settings(environ={}).section("tts", Voice).prefetch == 1  # shipped
