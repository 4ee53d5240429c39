"""A caller who puts the agent on hold and takes the call back.

Phones put a call on hold with a re-INVITE (sendonly, then sendrecv again),
and pjsua may give the call a new stream slot in the conference bridge on
the way back. Caller and agent must hear each other after the hold as they
did before it: both are `callcenter dial` processes playing their own tone,
and what each heard is read from its recording by frequency.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.acd import (
    DESK_AGENTS,
    acd_engine,
    agent_state,
    agents_yaml,
    desk_flow,
    desk_queues,
    wait_for,
)
from tests.support.audio import first_heard, read_wav, tone, write_wav
from tests.support.processes import dial_result, dial_script, start_dial

pytestmark = pytest.mark.e2e

CALLER_HZ = 700.0
AGENT_HZ = 1250.0
HOLD_AT_S, HOLD_S = 7.0, 2.0  # in the caller's script: on hold from 7 s to 9 s


def test_caller_and_agent_hear_each_other_after_the_caller_held_the_call(
        tmp_path: Path) -> None:
    engine = acd_engine(tmp_path / "hold", flow=desk_flow(agent_say=None),
                        agents=agents_yaml(DESK_AGENTS, session={"tone_s": 0.4}),
                        queues=desk_queues(max_wait_s=60))
    agent_heard, caller_heard = tmp_path / "agent-heard.wav", tmp_path / "caller-heard.wav"
    agent_tone = write_wav(tmp_path / "agent.wav", tone(AGENT_HZ, 24.0))
    # The caller's tone starts only once the hold is over.
    caller_tone = write_wav(tmp_path / "caller.wav", tone(CALLER_HZ, 4.0))
    try:
        agent = start_dial(engine.uri("200"), "--from", "1001", "--record", str(agent_heard),
                           "--script", str(dial_script(tmp_path / "agent.yaml", [
                               {"wait": 1.0}, {"dtmf": "1001#4711#"}, {"wait": 1.0},
                               {"dtmf": "1"}, {"wav": str(agent_tone)}, {"dtmf": "9"},
                               {"wait": 5.0}])))
        try:
            wait_for("agent 1001 ready", lambda: agent_state(engine, "1001") == "ready")
            caller = start_dial(engine.uri(), "--from", "5557000", "--record",
                                str(caller_heard), "--script", str(dial_script(
                                    tmp_path / "caller.yaml", [
                                        {"wait": HOLD_AT_S}, {"hold": HOLD_S},
                                        {"wav": str(caller_tone)}, {"wait": 3.0}])))
            caller_outcome = dial_result(caller, timeout=60)
            agent_outcome = dial_result(agent, timeout=30)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
    finally:
        engine.stop()

    assert caller_outcome["status"] == "answered", caller_outcome
    assert agent_outcome["status"] == "answered", agent_outcome

    heard, rate = read_wav(caller_heard)
    before = first_heard(heard[:, 0], rate, AGENT_HZ)
    assert before is not None and before < HOLD_AT_S, "the caller never heard the agent"
    after = first_heard(heard[:, 0], rate, AGENT_HZ, after=HOLD_AT_S + HOLD_S + 0.5)
    assert after is not None, "the caller no longer hears the agent after the hold"

    agent_side, rate = read_wav(agent_heard)
    assert first_heard(agent_side[:, 0], rate, CALLER_HZ) is not None, (
        "the agent does not hear the caller after the hold")
