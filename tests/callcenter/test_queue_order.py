"""Who an agent gets, over real calls: queue priority first, then the longest idle agent.

One engine runs a flow whose menu sends key 1 to the queue ``desk``
(priority 0) and key 2 to ``vip`` (priority 10); both need the skill
``desk``, which agents 1001 and 1002 have. The agents' phones are
`callcenter dial` processes that log in by DTMF and stay connected, not
ready; callers are `callcenter dial` processes keying their choice. Agents
are made ready through the control API, one at a time, so the order is the
test's, not a script's timing. The store is the evidence: queue entries,
agent state changes and the callers' queue events. The last caller is agent
1002's second on the same session: it never connected while a hung-up
caller's leaving dropped every route of the agent's leg (see
`sip.leg_audio.LegAudio.detach`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from callcenter.api.tokens import new_token, token_hash
from callcenter.core.call import utcnow
from tests.support.acd import DESK_AGENTS, acd_engine, agents_yaml, call_from, wait_for
from tests.support.processes import (
    EngineProcess,
    callcenter_cmd,
    dial_result,
    dial_script,
    start_dial,
)

pytestmark = pytest.mark.e2e

FLOW = """\
flow: order_test
start: choose
queues: {desk: {}, vip: {}}
escalation:
  queue: desk
  say: One moment.
  unavailable: Nobody can take your call. Goodbye.
states:
  choose:
    say: Press 1 for the desk, 2 for priority.
    menu:
      desk: {dtmf: 1, keywords: [desk], do: [{transfer: {queue: desk}}]}
      vip: {dtmf: 2, keywords: [priority], do: [{transfer: {queue: vip}}]}
"""

QUEUES = yaml.safe_dump({"queues": {
    # A long wrap-up: an agent whose call ended is free again only when the test says so.
    name: {"skills": {"desk": 1}, "priority": priority, "strategy": "longest_idle",
           "max_wait_s": 60, "announce_every_s": 0, "wrap_up_s": 120}
    for name, priority in (("desk", 0), ("vip", 10))}}, sort_keys=False)


class Desk:
    """The engine and an admin's way to set agents ready or not over its API."""

    def __init__(self, process: EngineProcess, token: str) -> None:
        self.process = process
        self._headers = {"Authorization": f"Bearer {token}"}

    def agent(self, agent_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.process.api_url}/v1/agents/{agent_id}",
                           headers=self._headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def make(self, agent_id: str, action: str) -> dict[str, Any]:
        answer = httpx.post(f"{self.process.api_url}/v1/agents/{agent_id}/state",
                            headers=self._headers, json={"action": action}, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def waiting(self, queue: str) -> int:
        answer = httpx.get(f"{self.process.api_url}/v1/queues/{queue}",
                           headers=self._headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["waiting"])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    process = acd_engine(
        tmp_path_factory.mktemp("queue-order"), flow=FLOW,
        agents=agents_yaml(DESK_AGENTS, session={"tone_s": 0.2, "whisper": False}),
        queues=QUEUES, settings={"engine": {"max_call_s": 60}}, start=False)
    store = process.store()
    store.migrate()
    token = new_token()
    store.api_users.add("boss", "admin", token_hash(token), at=utcnow())
    store.close()
    process.start(timeout=120)
    assert process.api_url.startswith("http://127.0.0.1:"), process.log[-2000:]
    yield Desk(process, token)
    process.stop()


def _caller(desk: Desk, folder: Path, number: str, key: str, stay_s: float
            ) -> subprocess.Popen[str]:
    """A caller keying `key` in the menu, then staying `stay_s` s before hanging up."""
    script = dial_script(folder / f"{number}.yaml", [{"wait": 0.5}, {"dtmf": key},
                                                     {"wait": stay_s}, {"hangup": True}])
    return start_dial(desk.process.uri(), "--from", number, "--no-transcribe",
                      "--script", str(script))


def _hung_up(caller: subprocess.Popen[str]) -> None:
    """Until `caller` has hung up, as its script says, after talking to an agent."""
    outcome = dial_result(caller, timeout=40)
    assert outcome["status"] == "answered" and outcome["ended_by"] == "caller", outcome


def _entry(desk: Desk, number: str, queue: str, *, closed: bool = False) -> Any:
    """The queue entry of `number`'s latest call in `queue` (closed: once it has an outcome)."""
    store = desk.process.store()
    try:
        call = next((c for c in store.recent_calls(50) if f"sip:{number}@" in c.from_uri),
                    None)
        if call is None:
            return None
        return next((e for e in store.acd.entries(queue=queue) if e.call_id == call.id
                     and (e.outcome is not None or not closed)), None)
    finally:
        store.close()


def test_a_higher_priority_caller_goes_first_then_the_longest_idle_agent_takes_the_next(
        desk: Desk, tmp_path: Path) -> None:
    # The agents' phones log in (not ready) and stay connected.
    agents = {agent_id: start_dial(desk.process.uri("200"), "--from", agent_id,
                                   "--no-transcribe", "--script", str(dial_script(
                                       tmp_path / f"agent-{agent_id}.yaml",
                                       [{"wait": 0.5}, {"dtmf": f"{agent_id}#{pin}#"},
                                        {"wait": 50.0}])))
              for agent_id, pin in (("1001", "4711"), ("1002", "2580"))}
    callers: list[subprocess.Popen[str]] = []
    try:
        wait_for("agents 1001 and 1002 logged in", lambda: all(
            desk.agent(agent_id)["state"] == "not_ready" for agent_id in agents))

        # A joins desk, then B joins vip: A has waited longer, B's queue ranks higher.
        callers.append(_caller(desk, tmp_path, "5550001", "1", 9.0))
        wait_for("A in desk", lambda: _entry(desk, "5550001", "desk"))
        callers.append(_caller(desk, tmp_path, "5550002", "2", 6.0))
        wait_for("B in vip", lambda: _entry(desk, "5550002", "vip"))

        # One agent gets ready: B (vip) is offered, A stays in line.
        desk.make("1001", "ready")
        b = wait_for("B answered", lambda: _entry(desk, "5550002", "vip", closed=True))
        assert (b.outcome, b.agent_id, b.priority) == ("answered", "1001", 10), b
        assert desk.waiting("desk") == 1
        assert desk.agent("1002")["state"] == "not_ready"
        # The other agent gets ready: A now.
        desk.make("1002", "ready")
        a = wait_for("A answered", lambda: _entry(desk, "5550001", "desk", closed=True))
        assert (a.outcome, a.agent_id, a.priority) == ("answered", "1002", 0), a
        assert a.wait_s > b.wait_s, (a, b)
        assert a.entered_at < b.entered_at and a.left_at > b.left_at, (a, b)

        # The callers hang up and each agent stays in wrap-up until made ready: 1002
        # first, 1001 at least 1.5 s later. C then goes to 1002, ready the longest; round
        # robin in desk (1002 had its last caller) and the file's order would pick 1001.
        _hung_up(callers[0])
        wait_for("agent 1002 in wrap-up", lambda: desk.agent("1002")["state"] == "wrap_up", 15)
        desk.make("1002", "ready")
        idle_from = time.monotonic()
        _hung_up(callers[1])
        wait_for("agent 1001 in wrap-up", lambda: desk.agent("1001")["state"] == "wrap_up", 15)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - idle_from)))
        desk.make("1001", "ready")
        callers.append(_caller(desk, tmp_path, "5550003", "1", 2.0))
        c = wait_for("C answered", lambda: _entry(desk, "5550003", "desk", closed=True))
        assert (c.outcome, c.agent_id) == ("answered", "1002"), (c, desk.process.log[-3000:])
        assert desk.agent("1001")["state"] == "ready"
        _hung_up(callers[2])
    finally:
        for process in (*callers, *agents.values()):
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)

    store = desk.process.store()
    try:
        calls = {name: call_from(store, number).id for name, number in
                 (("A", "5550001"), ("B", "5550002"), ("C", "5550003"))}
        changes = {agent_id: [(ch.state, ch.call_id) for ch in store.acd.state_changes(agent_id)
                              if ch.state in ("ready", "offered", "on_call")]
                   for agent_id in ("1001", "1002")}
        assert changes["1001"] == [("ready", None), ("offered", calls["B"]),
                                   ("on_call", calls["B"]), ("ready", None)], changes
        assert changes["1002"][:5] == [("ready", None), ("offered", calls["A"]),
                                       ("on_call", calls["A"]), ("ready", None),
                                       ("offered", calls["C"])], changes
        ready_again = {agent_id: [ch.at for ch in store.acd.state_changes(agent_id)
                                  if ch.state == "ready"][1] for agent_id in ("1001", "1002")}
        assert (ready_again["1001"] - ready_again["1002"]).total_seconds() >= 1.5, ready_again
        # Each caller's queue events: joined, connected with the agent, left.
        connected = {}
        for name, call_id in calls.items():
            events = [e for e in store.events_for(call_id) if e.kind == "queue"]
            assert [e.data["action"] for e in events] == ["joined", "connected", "left"], (
                name, [e.data for e in events])
            connected[name] = (events[1].at, events[1].data["agent"])
        assert [connected[name][1] for name in "BAC"] == ["1001", "1002", "1002"], connected
        assert connected["B"][0] < connected["A"][0] < connected["C"][0], connected
    finally:
        store.close()


def test_a_bad_agents_file_stops_the_engine_at_start(tmp_path: Path) -> None:
    agents = tmp_path / "bad-agents.yaml"
    agents.write_text('agents:\n  "1001":\n    name: First\n    pin: "4711"\n'
                      '    skills: {desk: high}\n  "1002": {name: Second, skills: {desk: 5}}\n')
    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  desk: {skills: {desk: 1}}\n")
    config = tmp_path / "site.yaml"
    config.write_text(f"engine:\n  flow: null\nacd:\n  agents_file: {agents}\n"
                      f"  queues_file: {queues}\n")

    done = subprocess.run(callcenter_cmd("serve", "--config", str(config), "--sip-port", "0",
                                         "--data-dir", str(tmp_path / "data")),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    # Every problem, each at its line.
    assert "bad-agents.yaml:5: agents.1001.skills.desk: Input should be a valid integer" in (
        done.stderr), done.stderr[-2000:]
    assert "bad-agents.yaml:6: agents.1002: missing key 'pin'" in done.stderr, (
        done.stderr[-2000:])
