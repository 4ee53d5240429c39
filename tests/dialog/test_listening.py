"""How a state's listening settings come about: the state's `listen` over the
flow's over the node's endpointing, merged in one place (no calls)."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.core.listening import EndpointerConfig
from dialog.flow import FlowSpec, ListenSpec
from dialog.listening import listen_settings
from dialog.ports import ListenSettings

NODE = ListenSettings(endpointing=EndpointerConfig(end_silence_ms_complete=300,
                                                   end_silence_ms_incomplete=1000,
                                                   min_speech_ms=220))


def settings(flow_listen: dict[str, Any] | None = None,
             state_listen: dict[str, Any] | None = None, *,
             ask: dict[str, Any] | None = None,
             node: ListenSettings | None = NODE) -> ListenSettings:
    """The settings of state `s` of a one-state flow."""
    state: dict[str, Any] = {"say": "Hello?", "listen": state_listen or {}}
    state["ask"] = ask or {"slot": "answer", "type": "yes_no"}
    spec = FlowSpec.model_validate({
        "flow": "f", "start": "s", "escalation": {"queue": "desk"},
        "listen": flow_listen or {}, "states": {"s": state}})
    return listen_settings(spec, spec.states["s"], node)


def test_the_state_sets_the_long_silence_and_the_node_the_short_one() -> None:
    got = settings({"end_silence_ms": 700, "max_utterance_ms": 12000, "no_input_ms": 6000})
    ep = got.endpointing
    assert (ep.end_silence_ms_complete, ep.end_silence_ms_incomplete) == (300, 700)
    assert (ep.min_speech_ms, ep.max_utterance_ms, ep.no_input_timeout_ms) == (220, 12000, 6000)


def test_a_state_may_set_the_short_silence_and_the_minimum_speech() -> None:
    ep = settings({}, {"end_silence_ms": 1500, "end_silence_complete_ms": 600,
                       "min_speech_ms": 0}).endpointing
    assert (ep.end_silence_ms_complete, ep.end_silence_ms_incomplete) == (600, 1500)
    assert ep.min_speech_ms == 0


def test_the_short_silence_is_never_the_longer() -> None:
    ep = settings({"end_silence_ms": 200}).endpointing
    assert (ep.end_silence_ms_complete, ep.end_silence_ms_incomplete) == (200, 300)


def test_the_state_wins_over_the_flow_which_wins_over_the_node() -> None:
    flow = {"barge_in": False, "end_silence_ms": 700, "end_silence_complete_ms": 400,
            "min_speech_ms": 150, "max_utterance_ms": 12000, "no_input_ms": 6000,
            "min_confidence": 0.3}
    state = {"barge_in": True, "end_silence_ms": 900, "end_silence_complete_ms": 500,
             "min_speech_ms": 250, "max_utterance_ms": 9000, "no_input_ms": 4000,
             "min_confidence": 0.6}
    assert set(flow) == set(ListenSpec.model_fields)  # every key a flow may write
    for listen, expected in ((flow, (False, 700, 400, 150, 12000, 6000, 0.3)),
                             (state, (True, 900, 500, 250, 9000, 4000, 0.6))):
        got = settings(flow, listen if listen is state else {})
        ep = got.endpointing
        assert (got.barge_in, ep.end_silence_ms_incomplete, ep.end_silence_ms_complete,
                ep.min_speech_ms, ep.max_utterance_ms, ep.no_input_timeout_ms,
                got.min_confidence) == expected


def test_what_no_listen_sets_is_the_nodes_whole_endpointing() -> None:
    node = ListenSettings(endpointing=EndpointerConfig(start_ms=120, preroll_ms=100,
                                                       barge_in_confirm_ms=60))
    assert settings(node=node).endpointing == node.endpointing
    assert settings(node=None) == ListenSettings()  # no node: the code's defaults


def test_a_null_no_input_timeout_stays_null() -> None:
    """The node's null means no no-input timeout; it used to become 6000 ms."""
    node = ListenSettings(endpointing=EndpointerConfig(no_input_timeout_ms=None))
    assert settings(node=node).endpointing.no_input_timeout_ms is None
    # a key left null in a flow or state keeps what is below it
    assert settings({"no_input_ms": None}, {"no_input_ms": None},
                    node=node).endpointing.no_input_timeout_ms is None
    assert settings({"no_input_ms": 5000}, {"no_input_ms": None},
                    node=node).endpointing.no_input_timeout_ms == 5000


@pytest.mark.parametrize("kind", ["digits", "text"])
def test_answers_said_in_pieces_wait_for_the_long_silence(kind: str) -> None:
    ask = {"slot": "answer", "type": kind}
    ep = settings({"end_silence_ms": 800, "end_silence_complete_ms": 300}, ask=ask).endpointing
    assert (ep.end_silence_ms_complete, ep.end_silence_ms_incomplete) == (800, 800)
    ep = settings({}, {"end_silence_complete_ms": 350}, ask=ask).endpointing
    assert (ep.end_silence_ms_complete, ep.end_silence_ms_incomplete) == (350, 1000)
    assert settings(ask=ask).endpointing.end_silence_ms_complete == 1000  # the node's long one


def test_settings_the_endpointer_refuses_fail_at_the_turn() -> None:
    node = ListenSettings(endpointing=EndpointerConfig(start_window_ms=1200, start_ms=200))
    with pytest.raises(ValueError, match="max_utterance_ms"):
        settings({"max_utterance_ms": 1000}, node=node)
