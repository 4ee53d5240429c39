"""A supervisor barges into an agent's call, then hangs up their phone.

The supervisor's leg ends while it is routed to and from both parties, and
pjsua removes its stream slot with those routes: caller and agent must go on
hearing each other (on pjsua 2.15 a route disconnected behind that removal
used to drop every route of the other side). Caller and agent are `callcenter
dial` processes, the supervisor's phone a :class:`tests.support.phone.Phone`
that hangs up by itself; each plays its own tone and records what it heard.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from callcenter.api.client import ApiClient
from callcenter.api.server import url_file
from callcenter.api.tokens import new_token, token_hash
from callcenter.cli import main
from callcenter.core.call import utcnow
from callcenter.node_registry import running_nodes
from tests.support.acd import acd_engine, agents_yaml, desk_agent, desk_flow, desk_queues, wait_for
from tests.support.audio import first_heard, level_at, read_wav, rms, tone, write_wav
from tests.support.phone import Phone
from tests.support.processes import dial_result, start_dial
from tests.support.sipp import free_port

pytestmark = pytest.mark.e2e

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 700.0, 1250.0, 1700.0
BARGE_S = 4.0  # the supervisor's phone hangs up this long after it answered
AFTER_S = 4.0  # how long the call goes on after that


def _last_heard(samples: np.ndarray, rate: int, freq: float) -> float | None:
    """The end (s) of the last 100 ms window in which `freq` is clearly present."""
    step = int(rate * 0.1)
    found = None
    for start in range(0, len(samples) - step, step):
        part = samples[start:start + step]
        if rms(part) > 100 and level_at(part, rate, freq) >= 0.1:
            found = (start + step) / rate
    return found


def _heard_after_the_barge(path: Path, other_hz: float) -> tuple[float | None, float | None]:
    """When the supervisor was last heard, and when `other_hz` first after that."""
    samples, rate = read_wav(path)
    samples = samples[:, 0]
    sup_end = _last_heard(samples, rate, SUPERVISOR_HZ)
    if sup_end is None:
        return None, None
    return sup_end, first_heard(samples, rate, other_hz, after=sup_end + 0.3)


def test_caller_and_agent_hear_each_other_after_a_barging_supervisor_hangs_up(
        tmp_path: Path) -> None:
    engine = acd_engine(
        tmp_path, flow=desk_flow(agent_say=None),
        agents=agents_yaml({"1001": desk_agent("Agent", "4711")},
                           session={"tone_s": 0.3, "whisper": False}),
        queues=desk_queues(max_wait_s=120, announce_every_s=600, wrap_up_s=0),
        settings={"engine": {"max_call_s": 90}}, start=False)
    token = new_token()
    store = engine.store()
    store.migrate()
    store.api_users.add("pat", "admin", token_hash(token), at=utcnow())
    store.close()
    engine.start(timeout=120)
    heard = {name: tmp_path / f"{name}-heard.wav" for name in ("caller", "agent", "sup")}
    phone = Phone(free_port(), "answer", "--wav",
                  str(write_wav(tmp_path / "c.wav", tone(SUPERVISOR_HZ, 30.0))),
                  "--record", str(heard["sup"]), "--hold", str(BARGE_S)).wait_ready()
    procs: list[subprocess.Popen[str]] = []
    try:
        agent = start_dial(engine.uri("200"), "--from", "1001", "--record", str(heard["agent"]),
                           "--dtmf", "1001#4711#", "--duration", "90", "--wav",
                           str(write_wav(tmp_path / "b.wav", tone(AGENT_HZ, 60.0))))
        procs.append(agent)
        name = wait_for("the node's pid file",
                        lambda: next(iter(sorted(running_nodes(engine.data_dir))), None), 10)
        api = ApiClient(url_file(engine.data_dir, name).read_text().strip(), token)
        wait_for("the agent logged in", lambda: any(
            a["id"] == "1001" and a["state"] == "not_ready" for a in api.get("/v1/agents")), 60)
        api.request("POST", "/v1/agents/1001/state", {"action": "ready"})
        caller = start_dial(engine.uri(), "--from", "5551234", "--record", str(heard["caller"]),
                            "--duration", "90", "--wav",
                            str(write_wav(tmp_path / "a.wav", tone(CALLER_HZ, 60.0))))
        procs.append(caller)
        call = wait_for("the caller with the agent", lambda: next(
            (c for c in api.get("/v1/calls") if c["activity"] == "with_agent"), None), 60)

        barge = CliRunner().invoke(main, [
            "monitor", call["call_id"], "--mode", "barge", "--phone", phone.uri,
            "--config", str(engine.config), "--data-dir", str(engine.data_dir)],
            env={"CALLCENTER_TOKEN": token})
        assert barge.exit_code == 0, barge.output
        [sup_call] = phone.result(timeout=BARGE_S + 20)
        assert sup_call["ended_by"] == "phone", sup_call
        wait_for("the monitor ended", lambda: api.get(
            f"/v1/calls/{call['call_id']}")["monitors"] == [], 10)
        assert api.get(f"/v1/calls/{call['call_id']}")["activity"] == "with_agent"
        time.sleep(AFTER_S)
        engine.stop()
        outcomes = [dial_result(proc, timeout=30) for proc in procs]
        assert all(o["ended_by"] == "remote" for o in outcomes), outcomes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        phone.kill()
        engine.stop()

    # The supervisor was heard by both, and each still heard the other afterwards.
    sup_end, agent_after = _heard_after_the_barge(heard["caller"], AGENT_HZ)
    assert sup_end is not None, "the caller never heard the barging supervisor"
    assert agent_after is not None, f"the caller heard no agent after {sup_end:.1f} s"
    sup_end, caller_after = _heard_after_the_barge(heard["agent"], CALLER_HZ)
    assert sup_end is not None, "the agent never heard the barging supervisor"
    assert caller_after is not None, f"the agent heard no caller after {sup_end:.1f} s"
