"""Fixtures of the asr tests: one real Whisper model for the whole session,
and the EmoDB clips of shared/testdata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from tests.support.shared_data import shared_path


@pytest.fixture(scope="session")
def recognizer() -> Iterator[WhisperRecognizer]:
    """The bundled tiny.en with the default settings, two workers whatever the machine."""
    rec = WhisperRecognizer(AsrSettings(workers=2))
    yield rec
    rec.close()


@pytest.fixture(scope="session")
def emodb() -> Path:
    """The EmoDB clips of ``shared/testdata`` (skipped when absent, failed
    under CI=true; see :mod:`tests.support.shared_data`)."""
    return shared_path("emotion-emodb")
