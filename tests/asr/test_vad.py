"""webrtcvad on call audio: speech frames from espeak-ng, silence, bad frames."""

from __future__ import annotations

import pytest

from asr.vad import VoiceActivityDetector
from tests.asr.speech import frames, say, silence


@pytest.mark.parametrize("rate", [8000, 16000])
def test_speech_is_voiced_and_silence_is_not(rate: int) -> None:
    vad = VoiceActivityDetector(rate, aggressiveness=2)
    speech = frames(say("I want to talk to an agent please", rate, engine="espeak"), rate)
    voiced = [vad.is_speech(f) for f in speech]
    assert sum(voiced) / len(voiced) > 0.6
    assert not any(vad.is_speech(f) for f in frames(silence(1.0, rate), rate))


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_frame_lengths(frame_ms: int) -> None:
    vad = VoiceActivityDetector(8000, frame_ms=frame_ms)
    assert vad.frame_bytes == 8000 * frame_ms // 1000 * 2
    assert vad.is_speech(b"\0" * vad.frame_bytes) is False


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        VoiceActivityDetector(11025)
    with pytest.raises(ValueError, match="frame"):
        VoiceActivityDetector(8000, frame_ms=25)
    with pytest.raises(ValueError, match="aggressiveness"):
        VoiceActivityDetector(8000, aggressiveness=4)
    vad = VoiceActivityDetector(8000)
    with pytest.raises(ValueError, match="320 bytes"):
        vad.is_speech(b"\0" * 100)
    vad.set_aggressiveness(3)
