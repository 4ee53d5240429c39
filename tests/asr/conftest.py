"""Fixtures of the asr tests: one real Whisper model for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer


@pytest.fixture(scope="session")
def recognizer() -> Iterator[WhisperRecognizer]:
    """The bundled tiny.en with the default settings (two workers)."""
    rec = WhisperRecognizer(AsrSettings())
    yield rec
    rec.close()
