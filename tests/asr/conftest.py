"""Fixtures of the asr tests: one real Whisper model for the whole session,
and the EmoDB clips of shared/testdata."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer


@pytest.fixture(scope="session")
def recognizer() -> Iterator[WhisperRecognizer]:
    """The bundled tiny.en with the default settings (two workers)."""
    rec = WhisperRecognizer(AsrSettings())
    yield rec
    rec.close()


EMODB = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "emotion-emodb"


@pytest.fixture(scope="session")
def emodb() -> Path:
    """The EmoDB clips of ``shared/testdata`` (shared/ sits beside the
    checkout). Skipped when absent on a developer's machine; under CI=true
    their absence fails the test instead of hiding it."""
    if not (EMODB / "manifest.tsv").is_file():
        reason = f"EmoDB test data not found at {EMODB}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: shared/ must sit beside the checkout)")
        pytest.skip(reason)
    return EMODB
