"""Connect time: an agent in a session becomes ready → two-way audio with a waiting caller.

An engine runs a flow that sends every caller to the queue ``desk``; one
agent (1001) is logged into an agent session. Both legs are pjsua2 calls in
this process (bench/_caller.py): the caller plays a 700 Hz tone without
pause, the agent a 1250 Hz tone. Each round the agent is not ready, a caller
dials in and waits on hold, then the agent presses the ready key; the round
measures, from the moment the key is sent (the first RFC 4733 packet leaves
within a millisecond), until the agent hears the caller's tone and the caller
hears the agent's, each in a received 20 ms frame. The agent then ends the
call (``*``) and closes wrap-up (``3``).

Two modes, each its own engine:

- ``tone``: ``session.whisper: false``, ``tone_s: 0.15`` — the agent hears a
  short tone, then the caller. ``connect_ms`` here is held to the target.
- ``whisper`` (the shipped default): the agent first hears who calls and
  from which queue, then a 0.3 s tone. Reported with its parts: the engine's
  own share (connect time minus the whisper and tone it chose to play) is
  held to the same target.

Prints one JSON line; exit status 0 when the targets hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _caller import CallerNode
from _common import json_stdout, setup_logging
from _voice_wire import summary

from callcenter.acd_sounds import CONNECT_TONE_HZ
from tests.support.audio import level_at, rms, tone
from tests.support.processes import EngineProcess

log = logging.getLogger("bench.agent_connect")

TARGET_MS = 300.0
CALLER_HZ = 700.0
AGENT_HZ = 1250.0
AGENT, PIN = "1001", "4711"

FLOW = """\
flow: connect_bench
start: to_desk
queues:
  desk: {}
escalation:
  queue: desk
  say: One moment.
  agent_say: Connecting you.
  unavailable: Nobody can take your call. Goodbye.
states:
  to_desk:
    do:
      - transfer: {queue: desk}
"""
QUEUES = """\
queues:
  desk:
    skills: {desk: 1}
    max_wait_s: 120
    announce_every_s: 0
    wrap_up_s: 60
"""


def agents_yaml(whisper: bool, tone_s: float) -> str:
    return f"""\
session:
  number: "200"
  tone_s: {tone_s}
  whisper: {str(whisper).lower()}
agents:
  "{AGENT}": {{name: Bench Agent, pin: "{PIN}", skills: {{desk: 5}}}}
"""


@dataclass
class Ear:
    """What one leg hears, frame by frame: arrival time and the share of each tone."""

    rate: int
    times: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def first(self, freq: float, since: float, share: float = 0.4) -> float | None:
        """Arrival time of the first frame after `since` dominated by `freq`."""
        for at, samples in zip(self.times, self.frames, strict=False):
            if at >= since and rms(samples) > 200 and level_at(samples, self.rate, freq,
                                                                width=60) >= share:
                return at
        return None

    def last(self, freq: float, since: float, until: float, share: float = 0.4) -> float | None:
        """Arrival time of the last frame in [since, until) dominated by `freq`."""
        found = None
        for at, samples in zip(self.times, self.frames, strict=False):
            if since <= at < until and rms(samples) > 200 and level_at(
                    samples, self.rate, freq, width=60) >= share:
                found = at
        return found

    def first_loud(self, since: float) -> float | None:
        return next((at for at, s in zip(self.times, self.frames, strict=False)
                     if at >= since and rms(s) > 200), None)


async def listen(call: Any, ear: Ear) -> None:
    with contextlib.suppress(Exception):
        async for frame in call.frames():
            ear.times.append(time.time())
            ear.frames.append(np.frombuffer(frame, dtype="<i2").astype(np.float64))


def endless(play: Any, pcm: bytes) -> asyncio.Task[None]:
    async def loop() -> None:
        while True:
            if not await play(pcm):
                return
    return asyncio.get_running_loop().create_task(loop())


def agent_state(engine: EngineProcess) -> str | None:
    store = engine.store()
    try:
        agent = store.acd.agent(AGENT)
        return None if agent is None else agent.state
    finally:
        store.close()


async def wait_state(engine: EngineProcess, want: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (state := await asyncio.to_thread(agent_state, engine)) != want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"agent {AGENT} is {state}, not {want}")
        await asyncio.sleep(0.1)


async def run_mode(work: Path, mode: str, rounds: int) -> dict[str, Any]:
    whisper = mode == "whisper"
    tone_s = 0.3 if whisper else 0.15
    folder = work / mode
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "connect_bench.yaml").write_text(FLOW)
    (folder / "agents.yaml").write_text(agents_yaml(whisper, tone_s))
    (folder / "queues.yaml").write_text(QUEUES)
    engine = EngineProcess(folder / "engine", {
        "engine": {"flow": "connect_bench", "flows_dir": str(folder / "flows"),
                   "max_call_s": 300},
        "acd": {"agents_file": str(folder / "agents.yaml"),
                "queues_file": str(folder / "queues.yaml")}})
    await asyncio.to_thread(engine.start, 120)
    phone = CallerNode(46000, 100, from_user="5550100")
    await phone.start()
    connects: list[float] = []
    engine_share: list[float] = []
    heard_first: list[float] = []
    try:
        agent = await phone.dial(engine.uri("200"))
        agent_ear = Ear(agent.rate)
        tasks = [asyncio.get_running_loop().create_task(listen(agent.call, agent_ear))]
        tasks.append(endless(agent.call.play, tone(AGENT_HZ, 1.0, agent.rate, 0.2).tobytes()))
        await asyncio.sleep(1.0)
        await agent.call.send_dtmf(f"{AGENT}#{PIN}#")
        await wait_state(engine, "not_ready")
        for n in range(rounds):
            caller = await phone.dial(engine.uri("300"))
            ear = Ear(caller.rate)
            tasks.append(asyncio.get_running_loop().create_task(listen(caller.call, ear)))
            caller_tone = tone(CALLER_HZ, 1.0, caller.rate, 0.2).tobytes()
            tasks.append(endless(caller.call.play, caller_tone))
            await asyncio.sleep(3.0)  # in the queue, on hold
            pressed = time.time()
            await agent.call.send_dtmf("1")
            await wait_state(engine, "on_call")
            await asyncio.sleep(1.5)
            agent_hears = agent_ear.first(CALLER_HZ, pressed)
            caller_hears = ear.first(AGENT_HZ, pressed)
            if agent_hears is None or caller_hears is None:
                raise RuntimeError(f"round {n}: no two-way audio (agent heard caller at "
                                   f"{agent_hears}, caller heard agent at {caller_hears})")
            two_way = max(agent_hears, caller_hears)
            connects.append((two_way - pressed) * 1000)
            engine_first = agent_ear.first_loud(pressed)
            assert engine_first is not None
            heard_first.append((engine_first - pressed) * 1000)
            # What the engine chose to play before the bridge: whisper and tone.
            tone_end = agent_ear.last(CONNECT_TONE_HZ, pressed, two_way) or engine_first
            deliberate = (tone_end - engine_first) + 0.02
            engine_share.append((two_way - pressed - deliberate) * 1000)
            log.info("%s round %d: two-way after %.0f ms (played first: %.0f ms)", mode, n,
                     connects[-1], deliberate * 1000)
            await agent.call.send_dtmf("*")
            await phone.node.wait_ended(caller.call, timeout=10)  # type: ignore[union-attr]
            await wait_state(engine, "wrap_up")
            await agent.call.send_dtmf("2")
            await asyncio.sleep(0.4)
            await agent.call.send_dtmf("1")  # reason: break (wrap-up ends with not ready)
            await wait_state(engine, "not_ready")
        for task in tasks:
            task.cancel()
    finally:
        await phone.stop()
        await asyncio.to_thread(engine.stop)
    return {"rounds": len(connects), "connect_ms": summary(connects),
            "engine_ms": summary(engine_share), "agent_hears_engine_ms": summary(heard_first),
            "tone_s": tone_s, "whisper": whisper}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    setup_logging()
    out = json_stdout()
    result: dict[str, Any] = {"bench": "agent_connect", "target_ms": TARGET_MS}
    with tempfile.TemporaryDirectory(prefix="agent-connect-") as tmp:
        for mode in ("tone", "whisper"):
            result[mode] = asyncio.run(run_mode(Path(tmp), mode, args.rounds))
    tone_p95 = result["tone"]["connect_ms"]["p95"]
    whisper_engine_p95 = result["whisper"]["engine_ms"]["p95"]
    result["pass"] = bool(tone_p95 is not None and tone_p95 <= TARGET_MS
                          and whisper_engine_p95 is not None
                          and whisper_engine_p95 <= TARGET_MS)
    print(__import__("json").dumps(result), file=out, flush=True)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
