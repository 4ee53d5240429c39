"""How a dialog state's listening settings become the endpointer's (no calls)."""

from __future__ import annotations

from asr.settings import EndpointingSettings
from callcenter.conversation import endpointer_config
from dialog.ports import ListenSettings

NODE = EndpointingSettings(end_silence_ms_complete=300, min_speech_ms=220)


def test_the_state_sets_the_long_silence_and_the_node_the_short_one() -> None:
    config = endpointer_config(NODE, ListenSettings(end_silence_ms=700, max_utterance_ms=12000,
                                                    no_input_ms=6000))
    assert (config.end_silence_ms_complete, config.end_silence_ms_incomplete) == (300, 700)
    assert (config.min_speech_ms, config.max_utterance_ms, config.no_input_timeout_ms) == (
        220, 12000, 6000)


def test_a_state_may_set_the_short_silence_and_the_minimum_speech() -> None:
    config = endpointer_config(NODE, ListenSettings(end_silence_ms=1500,
                                                    end_silence_complete_ms=600,
                                                    min_speech_ms=0))
    assert (config.end_silence_ms_complete, config.end_silence_ms_incomplete) == (600, 1500)
    assert config.min_speech_ms == 0


def test_the_short_silence_is_never_the_longer() -> None:
    config = endpointer_config(NODE, ListenSettings(end_silence_ms=200))
    assert config.end_silence_ms_complete == 200
    assert config.end_silence_ms_incomplete >= config.end_silence_ms_complete
