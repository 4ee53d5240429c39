"""webrtcvad on call audio: speech frames from espeak-ng, silence, bad frames."""

from __future__ import annotations

import numpy as np
import pytest

from asr.vad import VoiceActivityDetector
from tests.asr.speech import frames, say, silence
from tests.support.audio import rms


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


def _voiced_tail_ms(vad: VoiceActivityDetector, audio: list[bytes]) -> int:
    """How long after the last loud frame (RMS > 300) the detector says 'speech'."""
    loud = [rms(np.frombuffer(f, dtype="<i2").astype(np.float32)) > 300 for f in audio]
    decisions = [vad.is_speech(f) for f in audio]
    last_loud = max(i for i, x in enumerate(loud) if x)
    last_voiced = max(i for i, x in enumerate(decisions) if x)
    return max(0, last_voiced - last_loud) * vad.frame_ms


def test_the_energy_floor_cuts_webrtcvads_hang_over() -> None:
    audio = frames(say("Could you say that again?", 8000) + silence(0.5), 8000)
    plain = _voiced_tail_ms(VoiceActivityDetector(8000, energy_floor_dbfs=None), audio)
    floored = _voiced_tail_ms(VoiceActivityDetector(8000), audio)
    assert plain >= 80  # webrtcvad alone calls the silence after speech "speech"
    assert floored <= 40  # the last, quiet end of the word


def test_quiet_speech_is_above_the_floor() -> None:
    speech = np.frombuffer(say("I want to talk to an agent please", 8000, engine="espeak"),
                           dtype="<i2")
    quiet = frames((speech * 0.1).astype("<i2").tobytes())  # active speech at -41 dBFS
    plain, floored = (VoiceActivityDetector(8000, energy_floor_dbfs=None),
                      VoiceActivityDetector(8000))
    decisions = [(plain.is_speech(f), floored.is_speech(f),
                  rms(np.frombuffer(f, dtype="<i2").astype(np.float32))) for f in quiet]
    assert sum(p for p, _, _ in decisions) > 60
    # Only frames under the floor (-55 dBFS: RMS 58) change: the gaps between
    # words, where webrtcvad's hang-over speaks.
    assert all(p == f for p, f, level in decisions if level > 60)
    assert all(not f for _, f, level in decisions if level < 55)
