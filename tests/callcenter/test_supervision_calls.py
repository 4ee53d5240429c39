"""A supervisor listens in, whispers and barges into real calls through `callcenter monitor`.

First, on a queued-then-bridged call: one engine hands every caller to the
queue ``desk``; the caller (tone A), agent 1001 (tone B) and supervisor 1009
(tone C, logged in to their own agent session) are `callcenter dial`
processes recording what they hear. Then, on a call still with the engine
(its greeting a long tone): the engine rings the supervisor's phone, a SIP
endpoint in the test process playing tone C (and once refusing with 486).
The `callcenter monitor` command runs in the test process (click's runner,
no interpreter start) over the engine's control API. Who heard whom, and for
how long, is read from the recordings by frequency; audit rows and the
call's ``monitor`` events from the store.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from callcenter.api.client import ApiClient
from callcenter.api.server import url_file
from callcenter.api.tokens import new_token, token_hash
from callcenter.cli import main
from callcenter.core.call import utcnow
from callcenter.core.settings import load_settings
from sip.call import SipCall
from sip.node import SipNode
from tests.support.acd import acd_engine, agents_yaml, desk_agent, desk_flow, desk_queues, wait_for
from tests.support.audio import level_at, read_wav, rms, tone, write_wav
from tests.support.processes import EngineProcess, dial_result, start_dial

pytestmark = pytest.mark.e2e

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 700.0, 1250.0, 1700.0
CALLER_NUMBER = "5551234"
MODE_S = 3.0  # seconds in each mode


def _seconds_with(path: Path, freq: float, channel: int = 0) -> float:
    """Seconds of the recording in which `freq` is clearly present (100 ms windows)."""
    samples, rate = read_wav(path)
    samples = samples[:, channel]
    step = int(rate * 0.1)
    return 0.1 * sum(1 for i in range(0, len(samples) - step, step)
                     if rms(samples[i:i + step]) > 100
                     and level_at(samples[i:i + step], rate, freq) >= 0.1)


def test_listen_whisper_and_barge_through_the_cli(tmp_path: Path) -> None:
    engine = acd_engine(
        tmp_path, flow=desk_flow(agent_say=None),
        agents=agents_yaml({"1001": desk_agent("Agent", "4711"),
                            "1009": {"name": "Supervisor", "pin": "9090", "supervisor": True}},
                           session={"tone_s": 0.3, "whisper": False}),
        queues=desk_queues(max_wait_s=120, announce_every_s=600, wrap_up_s=0),
        settings={"engine": {"max_call_s": 90}}, start=False)
    token = new_token()  # an admin who is agent 1009: may listen in and set agents ready
    store = engine.store()
    store.migrate()
    store.api_users.add("pat", "admin", token_hash(token), at=utcnow(), agent_id="1009")
    store.close()
    engine.start(timeout=120)
    procs: list[subprocess.Popen[str]] = []
    try:
        cli_args = ["--config", str(engine.config), "--data-dir", str(engine.data_dir)]
        runner = CliRunner()

        def cli(*args: str) -> Result:
            # The `callcenter` command itself, run in this process (no interpreter start).
            return runner.invoke(main, [*args, *cli_args], env={"CALLCENTER_TOKEN": token})

        heard = {name: tmp_path / f"{name}-heard.wav" for name in ("caller", "agent", "sup")}
        long_b = write_wav(tmp_path / "b.wav", tone(AGENT_HZ, 60.0))
        long_c = write_wav(tmp_path / "c.wav", tone(SUPERVISOR_HZ, 60.0))
        # Each stays on until the engine stops (its BYE ends them all).
        agent = start_dial(engine.uri("200"), "--from", "1001", "--record", str(heard["agent"]),
                           "--dtmf", "1001#4711#", "--wav", str(long_b), "--duration", "90")
        sup = start_dial(engine.uri("200"), "--from", "1009", "--record", str(heard["sup"]),
                         "--dtmf", "1009#9090#", "--wav", str(long_c), "--duration", "90")
        procs += [agent, sup]
        api = ApiClient(url_file(engine.data_dir, _node_name(engine)).read_text().strip(), token)
        wait_for("both sessions logged in", lambda: all(
            a["state"] == "not_ready" for a in api.get("/v1/agents")
            if a["id"] in ("1001", "1009")) and len(api.get("/v1/calls")) == 2, 60)
        caller = start_dial(engine.uri(), "--from", CALLER_NUMBER, "--record",
                            str(heard["caller"]), "--wav",
                            str(write_wav(tmp_path / "a.wav", tone(CALLER_HZ, 60.0))),
                            "--duration", "90")
        procs.append(caller)
        call = wait_for("the caller queued", lambda: next(
            (c for c in api.get("/v1/calls") if c["caller"] == CALLER_NUMBER
             and c["activity"] == "queued"), None), 60)
        call_id = call["call_id"]

        # Still in the queue: nobody to whisper to.
        refused = cli("monitor", call_id[:8], "--mode", "whisper")
        assert refused.exit_code != 0 and "no agent to whisper to" in refused.output, (
            refused.output)

        started = cli("monitor", call_id[:8], "--mode", "listen")
        assert started.exit_code == 0, started.output
        monitor_id = started.stdout.strip()
        t_listen = time.monotonic()
        api.request("POST", "/v1/agents/1001/state", {"action": "ready"})
        wait_for("the agent bridged and heard by the supervisor", lambda: (
            (info := api.get(f"/v1/calls/{call_id}"))["activity"] == "with_agent"
            and info["monitors"][0]["monitor_id"] == monitor_id))
        time.sleep(MODE_S)
        assert cli("monitor", monitor_id, "--set-mode", "--mode", "whisper").exit_code == 0
        t_whisper = time.monotonic()
        time.sleep(MODE_S)
        assert cli("monitor", monitor_id, "--set-mode", "--mode", "barge").exit_code == 0
        t_barge = time.monotonic()
        time.sleep(MODE_S)
        stopped = cli("monitor", monitor_id, "--stop", "--json")
        t_stop = time.monotonic()
        assert stopped.exit_code == 0, stopped.output
        assert api.get(f"/v1/calls/{call_id}")["monitors"] == []  # the call goes on
        engine.stop()
        outcomes = [dial_result(proc, timeout=30) for proc in procs]
        assert all(o["ended_by"] == "remote" for o in outcomes), outcomes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        engine.stop()

    # The supervisor heard caller and agent; the agent heard the supervisor from the
    # whisper on, the caller only in the barge (CLI round trips blur edges: margins).
    assert _seconds_with(heard["sup"], CALLER_HZ) > 2 * MODE_S
    assert _seconds_with(heard["sup"], AGENT_HZ) > 2 * MODE_S
    agent_heard_sup = _seconds_with(heard["agent"], SUPERVISOR_HZ)
    caller_heard_sup = _seconds_with(heard["caller"], SUPERVISOR_HZ)
    assert abs(agent_heard_sup - (t_stop - t_whisper)) < 2.0, (agent_heard_sup,
                                                               t_stop - t_whisper)
    assert abs(caller_heard_sup - (t_stop - t_barge)) < 2.0, (caller_heard_sup,
                                                              t_stop - t_barge)
    assert _seconds_with(heard["caller"], AGENT_HZ) > 2 * MODE_S

    store = engine.store()
    try:
        record = store.get_call(call_id)
        assert record is not None and record.recording_path
        assert _seconds_with(Path(record.recording_path), SUPERVISOR_HZ, channel=1) > 1.5
        [row] = store.supervision.rows(call_id=call_id)
        assert (row.supervisor, row.via, row.phone, row.end_reason) == (
            "1009", "session", None, "stopped")
        assert [mode for mode, _ in row.mode_log] == ["listen", "whisper", "barge"]
        assert row.duration_s is not None
        assert abs(row.duration_s - (t_stop - t_listen)) < 2.0, row
        actions = [e.data["action"] for e in store.events_for(call_id) if e.kind == "monitor"]
        assert actions == ["requested", "joined", "mode", "mode", "ended"], actions
        # The supervisor's session was not ready all along: no caller was routed to it.
        states = [c.state for c in store.acd.state_changes("1009")]
        assert "offered" not in states, states
    finally:
        store.close()


def _node_name(engine: EngineProcess) -> str:
    from callcenter.node_registry import running_nodes

    return wait_for("the node's pid file", lambda: next(iter(sorted(
        running_nodes(engine.data_dir))), None), 10)


BOT_HZ = 1500.0  # the engine's greeting, long enough to still play while monitored


class _SupervisorPhone:
    """The supervisor's phone: a SIP endpoint in this process that answers (playing
    tone C and keeping what it hears) or refuses with `refuse` when that is set."""

    def __init__(self) -> None:
        self.refuse: int | None = None
        self.heard = bytearray()
        self.rate = 8000
        self.ended = asyncio.Event()
        self.node: SipNode | None = None

    async def start(self) -> str:
        settings = load_settings(overrides={"sip.host": "127.0.0.1", "sip.port": 0,
                                            "sip.rtp_port": 0, "sip.media_timeout_s": 30})
        self.node = SipNode(settings.sip, _Quiet(), self._incoming)
        facts = await self.node.start()
        return f"sip:sup@127.0.0.1:{facts.udp_port}"

    async def _incoming(self, call: SipCall) -> None:
        if self.refuse is not None:
            await call.reject(self.refuse)
            return
        await call.ring()
        await call.answer()
        assert call.media is not None
        self.rate = call.media.clock_rate
        call.play(tone(SUPERVISOR_HZ, 60.0, self.rate).tobytes())
        async for frame in call.frames():
            self.heard.extend(frame)
        self.ended.set()

    async def stop(self) -> None:
        if self.node is not None:
            await self.node.stop()

    def seconds_with(self, freq: float) -> float:
        path = write_wav(Path(tempfile.mkstemp(suffix=".wav")[1]),
                         np.frombuffer(bytes(self.heard), dtype="<i2"), self.rate)
        try:
            return _seconds_with(path, freq)
        finally:
            path.unlink()


class _Quiet:
    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        pass


async def test_a_supervisor_s_phone_is_rung_to_listen_to_the_bot_then_barge(
        tmp_path: Path) -> None:
    greeting = write_wav(tmp_path / "greeting.wav", tone(BOT_HZ, 30.0))
    engine = EngineProcess(tmp_path / "engine", {"engine": {"greeting": str(greeting),
                                                            "max_call_s": 60}})
    token = new_token()
    store = engine.store()
    store.migrate()
    store.api_users.add("ana", "supervisor", token_hash(token), at=utcnow())
    store.close()
    await asyncio.to_thread(engine.start, 60)
    phone = _SupervisorPhone()
    caller_heard = tmp_path / "caller-heard.wav"
    caller: subprocess.Popen[str] | None = None
    cli_args = ["--config", str(engine.config), "--data-dir", str(engine.data_dir)]
    runner = CliRunner()

    async def cli(*args: str) -> Result:
        return await asyncio.to_thread(runner.invoke, main, [*args, *cli_args],
                                       env={"CALLCENTER_TOKEN": token})

    try:
        uri = await phone.start()
        caller = start_dial(engine.uri(), "--from", CALLER_NUMBER, "--record", str(caller_heard),
                            "--wav", str(write_wav(tmp_path / "a.wav", tone(CALLER_HZ, 60.0))),
                            "--duration", "60")
        api = ApiClient(url_file(engine.data_dir, _node_name(engine)).read_text().strip(), token)
        call = await asyncio.to_thread(wait_for, "the caller with the bot", lambda: next(
            (c for c in api.get("/v1/calls") if c["activity"] == "bot"), None), 60)
        call_id = call["call_id"]

        refused = await cli("monitor", call_id[:8], "--mode", "whisper", "--phone", uri)
        assert refused.exit_code != 0 and "no agent to whisper to" in refused.output
        phone.refuse = 486
        busy = await cli("monitor", call_id[:8], "--mode", "listen", "--phone", uri)
        assert busy.exit_code != 0 and "486" in busy.output, busy.output
        phone.refuse = None
        started = await cli("monitor", call_id[:8], "--mode", "listen", "--phone", uri)
        assert started.exit_code == 0, started.output
        monitor_id = started.stdout.strip()
        await asyncio.sleep(MODE_S)
        assert (await cli("monitor", monitor_id, "--set-mode", "--mode", "barge")).exit_code == 0
        t_barge = time.monotonic()
        await asyncio.sleep(MODE_S)
        assert (await cli("monitor", monitor_id, "--stop")).exit_code == 0
        t_stop = time.monotonic()
        await asyncio.wait_for(phone.ended.wait(), 10)  # the engine hung the phone up
        assert api.get(f"/v1/calls/{call_id}")["activity"] == "bot"  # the call goes on
        await asyncio.to_thread(engine.stop)
        outcome = await asyncio.to_thread(dial_result, caller, 30)
        assert outcome["ended_by"] == "remote", outcome
    finally:
        if caller is not None and caller.poll() is None:
            caller.kill()
        await phone.stop()
        engine.stop()

    # Listening, the supervisor heard the caller and the bot; only the barge reached
    # the caller (and channel 2 of the call's recording).
    assert phone.seconds_with(CALLER_HZ) > 1.5 * MODE_S
    assert phone.seconds_with(BOT_HZ) > 1.5 * MODE_S
    heard_sup = _seconds_with(caller_heard, SUPERVISOR_HZ)
    assert abs(heard_sup - (t_stop - t_barge)) < 2.0, (heard_sup, t_stop - t_barge)
    store = engine.store()
    try:
        record = store.get_call(call_id)
        assert record is not None and record.recording_path
        assert _seconds_with(Path(record.recording_path), SUPERVISOR_HZ, channel=1) > 1.5
        no_answer, joined = store.supervision.rows(call_id=call_id)
        assert (no_answer.end_reason, no_answer.sip_code, no_answer.joined_at) == (
            "no_answer", 486, None)
        assert (joined.supervisor, joined.via, joined.phone, joined.end_reason) == (
            "ana", "phone", uri, "stopped")
        assert [mode for mode, _ in joined.mode_log] == ["listen", "barge"]
        leg = store.get_call(joined.leg_call_id or "")
        assert leg is not None and leg.direction == "outbound" and leg.to_uri == uri
    finally:
        store.close()
