"""The test caller's reading of what it heard (no calls)."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.scripted_caller import split_on_silence
from tests.support.audio import tone


@pytest.mark.parametrize("rate", [8000, 16000])
def test_speech_is_split_at_silences_at_any_rate(rate: int) -> None:
    quiet = np.zeros(rate, dtype="<i2")
    pcm = np.concatenate([tone(440, 0.5, rate), quiet, tone(440, 0.6, rate)]).tobytes()
    pieces = split_on_silence(pcm, rate)
    assert [at for at, _ in pieces] == [0.0, 1.5]
    assert [round(len(audio) / 2 / rate, 2) for _, audio in pieces] == [0.5, 0.6]
