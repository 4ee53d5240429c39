"""The human queue's wiring without calls: settings, the session number, sounds, whispers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acd.config import AcdConfig
from callcenter.acd_service import load_acd
from callcenter.acd_sounds import (
    CONNECT_TONE_HZ,
    ERROR_BEEP_HZ,
    HOLD_OFF_S,
    HOLD_ON_S,
    HOLD_TONE_HZ,
    KEY_BEEP_HZ,
    connect_tone,
    error_beep,
    key_beep,
    write_hold_tone,
)
from callcenter.core.settings import SipSettings, load_settings
from callcenter.engine import _with_session_number
from callcenter.handoff import caller_whisper
from config import CONFIG_DIR
from tests.support.audio import level_at, read_wav


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def test_the_shipped_agents_and_queues_load_by_default() -> None:
    settings = load_settings(environ={})
    assert settings.acd.enabled
    assert settings.acd.agents_path == CONFIG_DIR / "agents.yaml"
    assert settings.acd.queues_path == CONFIG_DIR / "queues.yaml"
    config = load_acd(settings.acd)
    assert config.session.number == "200" and config.session.keys.end_call == "*"
    assert "front-desk" in config.queues


def test_the_session_number_is_reserved_and_answered(tmp_path: Path) -> None:
    config: AcdConfig = load_acd(load_settings(environ={}).acd)
    sip = _with_session_number(SipSettings(reserved_numbers=["300"]), config)
    assert sip.reserved_numbers == ["300", "200"] and sip.numbers == []
    listed = _with_session_number(SipSettings(numbers=["100"]), config)
    assert listed.numbers == ["100", "200"] and listed.reserved_numbers == ["200"]
    same = SipSettings(numbers=["200"], reserved_numbers=["200"])
    assert _with_session_number(same, config) is same
    assert _with_session_number(same, None) is same


def test_each_sound_is_its_own_tone(tmp_path: Path) -> None:
    rate = 8000
    assert level_at(_samples(connect_tone(rate, 0.3)), rate, CONNECT_TONE_HZ) > 0.9
    assert level_at(_samples(key_beep(rate)), rate, KEY_BEEP_HZ) > 0.9
    assert level_at(_samples(error_beep(rate)), rate, ERROR_BEEP_HZ) > 0.9
    assert connect_tone(rate, 0) == b""
    hold, hold_rate = read_wav(write_hold_tone(tmp_path / "hold.wav", rate))
    assert hold_rate == rate and len(hold) == int(rate * (HOLD_ON_S + HOLD_OFF_S))
    assert level_at(hold[:, 0], rate, HOLD_TONE_HZ) > 0.9
    assert np.abs(hold[:, 0]).max() < 0.15 * 32767  # soft: it plays for minutes


def test_the_whisper_says_the_number_digit_by_digit_and_the_queue() -> None:
    assert caller_whisper("+15551234", "front-desk") == (
        "Caller from 1 5 5 5 1 2 3 4, queue front desk.")
    assert caller_whisper("anonymous", "billing_2") == "Caller, queue billing 2."
