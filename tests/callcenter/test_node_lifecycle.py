"""A node a SIP edge can rely on: drain on SIGTERM (or `callcenter drain`),
stop at once on SIGINT, and unique node names on a shared store.

End to end over loopback with `callcenter serve` subprocesses; every wait
is bounded and generous (a loaded 2-core machine).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from callcenter.core.call import EndReason
from callcenter.core.store import Store
from tests.callcenter.test_sip_robustness import EngineFactory, ended_records, wait_for
from tests.support.processes import EngineProcess, callcenter_cmd, dial, dial_result, start_dial
from tests.support.sipp import options_ping

pytestmark = pytest.mark.e2e


def exit_code(engine: EngineProcess, timeout: float) -> int:
    assert engine.proc is not None
    return engine.proc.wait(timeout)


# -- e. drain ---------------------------------------------------------------------------
def test_sigterm_drains_live_calls_then_exits_0(engine_factory: EngineFactory) -> None:
    engine = engine_factory({"engine": {"drain_timeout_s": 60}})
    caller = start_dial(engine.uri(), "--duration", "12")
    try:
        wait_for(lambda: engine.status()["active_calls"] == 1, 20, "the call")
        assert engine.proc is not None
        engine.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "draining" in engine.log, 10, "the drain to start")
        # Once in a loaded CI run an OPTIONS right after the drain began got
        # 200 (not reproduced since): ask again briefly, and keep the log.
        answers: list[int | None] = []

        def options_refused() -> bool:
            answers.append(options_ping(engine.port))
            return answers[-1] == 503

        wait_for(options_refused, 5,
                 lambda: f"OPTIONS 503 while draining (answers {answers}):\n{engine.log[-3000:]}")
        refused = dial(engine.uri(), "--duration", "1", timeout=30)
        assert (refused["status"], refused["sip_code"]) == ("failed", 503), refused
        assert engine.proc.poll() is None  # still serving its live call
        outcome = dial_result(caller, timeout=40)
        code = exit_code(engine, 30)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait(5)
    assert outcome["status"] == "answered" and outcome["ended_by"] == "caller", outcome
    assert code == 0, engine.log[-4000:]
    assert not re.search(r"Traceback|Assertion", engine.log), engine.log[-4000:]
    records = ended_records(engine, 2, timeout=10)
    live = next(r for r in records if r.end_reason != EndReason.REJECTED)
    assert live.end_reason == EndReason.CALLER_HANGUP and live.recording_complete
    [rejected] = [r for r in records if r.end_reason == EndReason.REJECTED]
    assert rejected.sip_code == 503
    store = engine.store()
    try:
        [event] = [e for e in store.events_for(rejected.id) if e.kind == "refused"]
    finally:
        store.close()
    assert event.data["reason"] == "draining"


def test_sigint_stops_at_once_with_bye(engine_factory: EngineFactory) -> None:
    engine = engine_factory({"engine": {"drain_timeout_s": 60}})
    caller = start_dial(engine.uri(), "--duration", "30")
    try:
        wait_for(lambda: engine.status()["active_calls"] == 1, 20, "the call")
        time.sleep(1)
        started = time.monotonic()
        assert engine.stop(signal.SIGINT, timeout=30) == 0, engine.log[-4000:]
        took = time.monotonic() - started
        outcome = dial_result(caller, timeout=20)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait(5)
    assert took < 20  # not the 60 s a drain would allow
    assert not re.search(r"Traceback|Assertion", engine.log), engine.log[-4000:]
    assert outcome["status"] == "answered" and outcome["ended_by"] == "remote", outcome
    [cdr] = ended_records(engine, 1, timeout=5)
    assert cdr.end_reason == EndReason.SHUTDOWN and cdr.recording_complete


def test_drain_command_signals_the_node_and_waits(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    done = subprocess.run(callcenter_cmd("drain", "--data-dir", str(engine.data_dir)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.search(r"node \S+ \(pid \d+\) is draining", done.stderr)
    assert "has stopped" in done.stderr
    assert exit_code(engine, 10) == 0
    again = subprocess.run(callcenter_cmd("drain", "--data-dir", str(engine.data_dir)),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "no node is serving" in again.stderr


# -- f. node names ------------------------------------------------------------------------
def test_a_second_node_with_a_live_name_refuses_to_start(engine_factory: EngineFactory,
                                                         tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    shared = {"store": {"url": url}, "node": {"name": "twin"}}
    first = engine_factory(shared, name="first")
    caller = start_dial(first.uri(), "--duration", "10")
    store = Store(url)
    try:
        wait_for(lambda: any(c.recording_path for c in store.recent_calls()), 20,
                 "the first node's call to be recorded")
        with pytest.raises(RuntimeError) as err:
            engine_factory(shared, name="second")
        message = str(err.value)
        assert "node.name 'twin' is in use by a live node" in message, message[-3000:]
        assert first.proc is not None and f"pid {first.proc.pid}" in message
        [live] = store.recent_calls()
        assert live.ended_at is None and live.recording_sha256 is None  # untouched
        outcome = dial_result(caller, timeout=40)
        assert outcome["status"] == "answered" and outcome["ended_by"] == "caller"
        wait_for(lambda: (c := store.get_call(live.id)) is not None
                 and c.recording_complete, 20, "the call to end")
        call = store.get_call(live.id)
        assert call is not None and call.end_reason == EndReason.CALLER_HANGUP
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait(5)
        store.close()


def test_default_names_come_from_host_and_port(engine_factory: EngineFactory,
                                               tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [engine_factory({"store": {"url": url}}, name=f"n{i}") for i in range(2)]
    store = Store(url)
    try:
        nodes = {n.name: n for n in store.nodes.all()}
    finally:
        store.close()
    assert sorted(n.sip_port or 0 for n in nodes.values()) == sorted(e.port for e in engines)
    for node in nodes.values():
        assert node.name.endswith(f"-{node.sip_port}") and node.stopped_at is None
