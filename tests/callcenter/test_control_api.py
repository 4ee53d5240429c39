"""The control API and its CLI against a real engine over real HTTP and SIP.

One engine runs a flow that queues every caller in ``desk``; agents and
callers are `callcenter dial` processes (as in test_agent_queue). Users and
tokens are made with `callcenter users add` and in the store. The API is
asked over loopback HTTP on its ephemeral port, the live event stream read
as Server-Sent Events, and the CLI run as a subprocess against it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from callcenter.api.tokens import new_token, token_hash
from callcenter.cli import main
from callcenter.core.call import utcnow
from tests.support.acd import DESK_AGENTS, acd_engine, agents_yaml, desk_flow, desk_queues, wait_for
from tests.support.processes import EngineProcess, callcenter_cmd, dial_script, start_dial

pytestmark = pytest.mark.e2e


class Engine:
    """The engine, its API URL and a token per user."""

    def __init__(self, process: EngineProcess, tokens: dict[str, str]) -> None:
        self.process = process
        self.url = process.api_url
        self.tokens = tokens

    def request(self, method: str, path: str, user: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, user: str | None) -> Any:
        answer = self.request("GET", path, user)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def cli(self, *args: str, user: str | None = "ana") -> Any:
        """The CLI in this process (real HTTP to the engine, no interpreter start-up)."""
        extra = ["--api", self.url] + (["--token", self.tokens[user]] if user else [])
        return cli(*args, *extra)


def cli(*args: str) -> Any:
    """`callcenter ARGS` run in this process: exit_code, stdout, stderr."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False,
                              env={"CALLCENTER_API": None, "CALLCENTER_TOKEN": None})


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    process = acd_engine(
        tmp_path_factory.mktemp("control-api"), flow=desk_flow(),
        agents=agents_yaml(DESK_AGENTS, session={"tone_s": 0.2}),
        queues=desk_queues(max_wait_s=120, announce_every_s=0, wrap_up_s=0),
        settings={"engine": {"max_call_s": 60}}, start=False)
    store = process.store()
    store.migrate()
    tokens = {}
    for name, role, agent in [("boss", "admin", None), ("ana", "supervisor", None),
                              ("first", "agent", "1001")]:
        tokens[name] = new_token()
        store.api_users.add(name, role, token_hash(tokens[name]), at=utcnow(), agent_id=agent)
    store.close()
    process.start(timeout=120)
    assert process.api_url.startswith("http://127.0.0.1:"), process.log[-2000:]
    yield Engine(process, tokens)
    process.stop()


class EventStream:
    """Reads /v1/events in a thread: the subscription comment, then LiveEvents."""

    def __init__(self, engine: Engine, user: str, topic: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.comments: list[str] = []
        self.ended = threading.Event()
        params = {"topic": topic} if topic else {}
        self._thread = threading.Thread(target=self._read, daemon=True,
                                        args=(engine, user, params))
        self._thread.start()
        wait_for("the stream's subscription", lambda: self.comments, 15)

    def _read(self, engine: Engine, user: str, params: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {engine.tokens[user]}"}
        try:
            with httpx.stream("GET", engine.url + "/v1/events", headers=headers, params=params,
                              timeout=httpx.Timeout(10, read=60)) as answer:
                assert answer.headers["content-type"].startswith("text/event-stream")
                kind = None
                for line in answer.iter_lines():
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.events.append({"sse_event": kind, **json.loads(line[6:])})
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def find(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        return next((e for e in list(self.events) if match(e)), None)


def test_queue_calls_and_agent_state_live_through_the_api_cli_and_event_stream(
        desk: Engine, tmp_path: Path) -> None:
    stream = EventStream(desk, "ana")
    watching = subprocess.Popen(callcenter_cmd(
        "watch", "--topic", "calls/+/queue", "--count", "1", "--json", "--api", desk.url,
        "--token", desk.tokens["ana"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert watching.stderr is not None
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(watching.stderr or []), daemon=True).start()
    agent = start_dial(desk.process.uri("200"), "--from", "1001", "--script", str(
        dial_script(tmp_path / "agent.yaml", [{"wait": 1.0}, {"dtmf": "1001#4711#"},
                                              {"wait": 30.0}])))
    caller = None
    try:
        wait_for("agent 1001 logged in", lambda: desk.get(
            "/v1/agents/1001", "first")["state"] == "not_ready")
        wait_for("`callcenter watch` following", lambda: any(
            line.startswith("following calls/+/queue") for line in said), 30)
        caller = start_dial(desk.process.uri(), "--from", "5550199", "--script", str(
            dial_script(tmp_path / "caller.yaml", [{"wait": 40.0}])))
        queue = wait_for("the caller waiting", lambda: (
            q := desk.get("/v1/queues/desk", "ana"))["waiting"] == 1 and q)
        [waiting] = queue["callers"]
        assert waiting["position"] == 1 and waiting["number"] == "5550199"
        assert queue["agents"]["not_ready"] == 1 and queue["agents"]["logged_out"] == 1
        assert queue["longest_wait_s"] is not None and queue["longest_wait_s"] >= 0

        calls = {c["call_id"]: c for c in desk.get("/v1/calls", "boss")}
        assert calls[waiting["call_id"]]["activity"] == "queued"
        assert calls[waiting["call_id"]]["position"] == 1
        assert [c["agent"] for c in calls.values() if c["activity"] == "agent_session"] == [
            "1001"]
        assert desk.get(f"/v1/calls/{waiting['call_id'][:8]}", "ana")["queue"] == "desk"

        # The CLI reads the same: tables for people, JSON for machines.
        table = desk.cli("queues")
        assert table.exit_code == 0, table.stderr
        assert [line.split()[:2] for line in table.stdout.splitlines()] == [
            ["QUEUE", "WAITING"], ["desk", "1"]]
        live = desk.cli("calls", "--live", "--json")
        assert live.exit_code == 0, live.stderr
        assert waiting["call_id"] in {json.loads(line)["call_id"]
                                      for line in live.stdout.splitlines()}

        # The agent makes themself ready with the CLI: routing offers the caller,
        # which the agent's own stream (agents/1001/#) carries with its context.
        own = EventStream(desk, "first")
        ready = desk.cli("agents", "1001", "--ready", "--json", user="first")
        assert ready.exit_code == 0, ready.stderr
        assert json.loads(ready.stdout)[0]["state"] in ("ready", "offered", "on_call")
        talking = wait_for("the caller with the agent", lambda: desk.get(
            "/v1/agents/1001", "first")["state"] == "on_call", 30)
        assert talking
        seen = wait_for("agent events on the stream", lambda: stream.find(
            lambda e: e["kind"] == "agent" and e["data"].get("state") == "on_call"), 10)
        assert seen["topic"].startswith("node/") and seen["data"]["agent"] == "1001"
        assert stream.find(lambda e: e["kind"] == "agent" and e["data"]["state"] == "ready")
        assert stream.find(lambda e: e["call_id"] == waiting["call_id"]
                           and e["sse_event"] == "queue")
        offer = wait_for("the offer on the agent's stream", lambda: own.find(
            lambda e: e["kind"] == "offer"), 10)
        assert offer["topic"] == "agents/1001/offer" and offer["call_id"] == waiting["call_id"]
        assert all(e["topic"].startswith("agents/1001/") for e in own.events)
        agents = desk.cli("agents", "--json", user="first")
        assert [a["id"] for a in json.loads(agents.stdout)] == ["1001"], agents.stderr

        # The call's stored events, through the API as through `callcenter events`.
        stored = wait_for("the stored queue events", lambda: [
            e for e in desk.get(f"/v1/calls/{waiting['call_id']}/events", "ana")
            if e["kind"] == "queue" and e["data"].get("action") == "connected"], 15)
        assert stored[0]["data"]["agent"] == "1001"
        # `callcenter watch` saw the caller join the queue (its first queue event).
        assert watching.stdout is not None and watching.wait(30) == 0, said
        [watched] = [json.loads(line) for line in watching.stdout.read().splitlines()]
        assert (watched["topic"], watched["kind"]) == (f"calls/{waiting['call_id']}/queue",
                                                       "queue")
    finally:
        for process in (caller, agent, watching):
            if process is not None and process.poll() is None:
                process.kill()


def test_wrong_tokens_roles_and_calls_are_clear_errors(desk: Engine) -> None:
    assert desk.request("GET", "/v1/agents", None).status_code == 401
    assert desk.request("GET", "/v1/queues", "first").status_code == 403
    assert desk.request("POST", "/v1/agents/1002/state", "first",
                        json={"action": "ready"}).status_code == 403
    docs = desk.request("GET", "/openapi.json", None).json()
    assert "/v1/monitors" in docs["paths"] and docs["info"]["title"]

    bad = desk.cli("agents", user=None)
    assert bad.exit_code == 1 and "no API token" in bad.stderr
    desk.tokens["nobody"] = "cc_not-a-token"
    refused = desk.cli("agents", user="nobody")
    assert refused.exit_code == 1 and "401" in refused.stderr and "--token" in refused.stderr
    role = desk.cli("queues", user="first")
    assert role.exit_code == 1 and "403" in role.stderr
    beyond = desk.cli("watch", "--topic", "calls/#", user="first")
    assert beyond.exit_code == 1 and "403" in beyond.stderr and "agents/1001/#" in beyond.stderr
    missing = desk.cli("monitor", "deadbeef", "--mode", "listen", "--phone",
                       "sip:sup@127.0.0.1:9")
    assert missing.exit_code == 1 and "404" in missing.stderr and "deadbeef" in missing.stderr
    away = cli("agents", "--api", "http://127.0.0.1:9", "--token", desk.tokens["ana"])
    assert away.exit_code == 1 and "no engine answers at http://127.0.0.1:9" in away.stderr


def test_a_user_added_with_the_cli_is_let_in_and_locked_out_when_removed(
        desk: Engine) -> None:
    data = ["--data-dir", str(desk.process.data_dir)]
    added = cli("users", "add", "sup2", "--role", "supervisor", *data)
    assert added.exit_code == 0, added.stderr
    [token] = added.stdout.split()
    assert token.startswith("cc_") and "not shown again" in added.stderr
    desk.tokens["sup2"] = token
    assert desk.get("/v1/me", "sup2") == {"name": "sup2", "role": "supervisor",
                                          "agent_id": None}
    # The CLI finds the local node's API by itself (its data folder's run/<node>.api).
    found = cli("queues", *data, "--token", token)
    assert found.exit_code == 0 and "desk" in found.stdout, found.stderr
    assert cli("users", "remove", "sup2", *data).exit_code == 0
    assert desk.request("GET", "/v1/me", "sup2").status_code == 401


def test_the_api_stops_with_the_engine_and_ends_live_streams(desk: Engine) -> None:
    """Last in this module: it stops the module's engine."""
    process = desk.process
    url_file = next((process.data_dir / "run").glob("*.api"))
    assert url_file.read_text().strip() == desk.url
    stream = EventStream(desk, "ana")
    started = time.monotonic()
    assert process.stop() == 0, process.log[-3000:]
    assert stream.ended.wait(5), "the event stream did not end with the engine"
    assert time.monotonic() - started < 15
    assert not url_file.exists()
    assert "Traceback" not in process.log, process.log[-3000:]
