"""The clinic demo over real calls: the engine, its records, and calls run side by side.

    engine = clinic_engine(folder)                 # `callcenter serve` on the clinic flow
    calls = ClinicCalls(engine, folder, workers=4)
    calls.start("cancel", CallPlan("+15559870001", [{"wait_prompt": True}, ...],
                                   record=appointment("Ana", days=3)))
    talk = calls.result("cancel")                  # a Conversation: both sides, turns, CDR

Each call is `callcenter dial --script` in a subprocess (the test caller:
piper or a WAV speaks, Whisper transcribes what it heard), with a spy that
notes every REFER the caller is sent (the test caller declines them with
603, so a transfer to the front desk fails and the flow's "unavailable"
message plays). A call's engine side (CDR, events, turns, log lines) is found
by its caller number, so give each call its own number and record.

``python -m tests.support.clinic URI ...`` is `callcenter dial` with that
spy; it appends one JSON line per REFER to $CLINIC_REFER_LOG.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from config import CONFIG_DIR
from tests.support.audio import write_wav
from tests.support.processes import EngineProcess

CLINIC_TZ = ZoneInfo("America/New_York")  # the clinic flow's `timezone`
FRONT_DESK_URI = "sip:front-desk@127.0.0.1"  # its front-desk queue
_FROM_USER = re.compile(r"^sips?:([^@;>]+)@")


def clinic_engine(folder: Path, max_call_s: int = 90, *,
                  refer_to: str | None = None) -> EngineProcess:
    """A started engine answering every call with the clinic flow; with
    `refer_to`, the flow's front-desk queue falls back to a REFER there (the
    shipped flow has no URI: with nobody logged in, "unavailable" at once)."""
    engine_settings: dict[str, Any] = {"flow": "clinic", "max_call_s": max_call_s}
    if refer_to is not None:
        flows = folder / "flows"
        shutil.copytree(CONFIG_DIR / "flows", flows)
        text = (flows / "clinic.yaml").read_text()  # edited as text: its keys
        assert text.count("\n    uri: null\n") == 1  # "yes:"/"no:" are no YAML 1.1 bools
        (flows / "clinic.yaml").write_text(text.replace("\n    uri: null\n",
                                                        f"\n    uri: {refer_to}\n"))
        engine_settings["flows_dir"] = str(flows)
    engine = EngineProcess(folder, {"engine": engine_settings})
    engine.start(timeout=120)
    return engine


@contextlib.contextmanager
def _store(engine: EngineProcess) -> Iterator[Any]:
    store = engine.store()
    try:
        yield store
    finally:
        store.close()


def caller_turns(engine: EngineProcess, number: str) -> list[Any]:
    """The turns of the engine's most recent call from `number` (calls may overlap)."""
    with _store(engine) as store:
        call = next(c for c in store.recent_calls() if number in c.from_uri)
        return list(store.turns_for(call.id))


def call_events(engine: EngineProcess, number: str) -> list[Any]:
    """The stored events of the engine's most recent call from `number`."""
    with _store(engine) as store:
        call = next(c for c in store.recent_calls() if number in c.from_uri)
        return list(store.events_for(call.id))


def get_record(engine: EngineProcess, key: str) -> dict[str, Any]:
    """The appointment under `key` (it must exist)."""
    with _store(engine) as store:
        found = store.get_record("appointment", key)
    assert found is not None, f"no appointment under {key!r}"
    return dict(found)


def put_record(engine: EngineProcess, key: str, data: dict[str, Any]) -> None:
    with _store(engine) as store:
        store.put_record("appointment", key, data)


def clinic_today() -> date:
    """Today where the clinic is (the flow's time zone)."""
    return datetime.now(CLINIC_TZ).date()


def appointment(patient: str, *, days: int, at: str = "09:30",
                doctor: str = "Doctor Patel") -> dict[str, Any]:
    """A booked appointment `days` from the clinic's today, as the seed writes them."""
    return {"patient_name": patient, "doctor": doctor,
            "date": (clinic_today() + timedelta(days=days)).isoformat(), "time": at,
            "status": "booked"}


def espeak_wav(path: Path, text: str, voice: str = "en-us") -> Path:
    """`text` spoken by espeak-ng as an 8 kHz mono PCM16 WAV (for a `wav:` step)."""
    from tests.asr.speech import say

    pcm = say(text, 8000, engine="espeak", voice=voice)
    return write_wav(path, np.frombuffer(pcm, dtype="<i2"), rate=8000)


@dataclass(frozen=True)
class CallPlan:
    """One call: who calls, the caller script, the record to file first.

    Steps are caller-script steps; ``{"espeak": [voice, text]}`` becomes a
    ``wav`` step of that text spoken by espeak-ng (another speaker than piper).
    """

    number: str
    steps: list[dict[str, Any]]
    record: dict[str, Any] | None = None
    timeout: float = 150.0


@dataclass
class Conversation:
    """A finished call seen from both ends."""

    number: str
    outcome: dict[str, Any]  # `callcenter dial --json`
    call: Any  # the engine's CallRecord
    turns: list[Any]  # the engine's TurnRecords
    events: list[Any]  # the engine's EventRecords
    refers: list[str]  # Refer-To URIs the caller was sent
    log: list[str]  # engine log lines about this call
    seconds: float  # wall time of the dial
    record: dict[str, Any] | None  # the caller's appointment after the call

    @property
    def heard(self) -> str:
        """What the caller heard the engine say (Whisper on the caller's side), lowercased."""
        return " ".join(t["text"] for t in self.outcome["conversation"]
                        if t["speaker"] == "engine").lower()

    @property
    def said(self) -> list[dict[str, Any]]:
        """What the caller said or pressed, with `at` in seconds from the answer."""
        return [t for t in self.outcome["conversation"] if t["speaker"] == "caller"]

    def caller_turns(self) -> list[Any]:
        return [t for t in self.turns if t.speaker == "caller"]

    def engine_turns(self, state: str | None = None) -> list[Any]:
        return [t for t in self.turns if t.speaker == "engine"
                and (state is None or t.state == state)]

    def engine_said(self) -> list[str]:
        return [t.text for t in self.engine_turns()]

    def flow_ending(self) -> str | None:
        """ "completed", "transfer_failed", ... from the engine's log."""
        for line in self.log:
            if found := re.search(r"flow ended \((\w+) in (\w+)\)", line):
                return found.group(1)
        return None

    def describe(self) -> str:
        """Both sides, for assertion messages."""
        lines = [f"call from {self.number}: {self.seconds:.0f} s, caller heard "
                 f"{self.outcome.get('heard_seconds', 0):.1f} s, refers {self.refers}"]
        lines += [f"  caller heard/said {t['at']:5.1f}s {t['speaker']}: {t['text']}"
                  for t in self.outcome["conversation"]]
        lines += [f"  turn {t.speaker:>6} ({t.state}) [{t.intent}]: {t.text}"
                  for t in self.turns]
        lines += [f"  log {line.rstrip()}" for line in self.log]
        return "\n".join(lines)


class ClinicCalls:
    """Calls to one engine run side by side (at most `workers` at a time)."""

    def __init__(self, engine: EngineProcess, folder: Path, workers: int = 4,
                 stagger_s: float = 5.0) -> None:
        self.engine = engine
        self.folder = folder
        # Calls started together reach their heavy moments together (the
        # engine synthesizing every menu, each caller loading its voice at its
        # first `say`); spacing the starts keeps answers within no-input time.
        self.stagger_s = stagger_s
        self._next_start = 0.0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clinic-call")
        self._futures: dict[str, Future[Conversation]] = {}
        self._procs: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # The caller transcribes what it heard with Whisper's full 30 s window:
        # with the shipped 10 s window for finals, pieces of 8 s or more lose
        # their last words ("... opening hours." without "Goodbye.").
        self.caller_settings = folder / "caller-settings.yaml"
        folder.mkdir(parents=True, exist_ok=True)
        self.caller_settings.write_text(yaml.safe_dump({"asr": {"window_s": 30}}))

    def start(self, name: str, plan: CallPlan) -> None:
        if name not in self._futures:
            self._futures[name] = self._pool.submit(self._run, name, plan)

    def result(self, name: str, timeout: float = 280.0) -> Conversation:
        return self._futures[name].result(timeout)

    def close(self) -> None:
        """Cancel calls not begun, end running dials; bounded."""
        with self._lock:
            self._closed.set()
        for future in self._futures.values():
            future.cancel()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _script(self, name: str, plan: CallPlan) -> Path:
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        steps = []
        for index, step in enumerate(plan.steps):
            if "espeak" in step:
                voice, text = step["espeak"]
                wav = espeak_wav(folder / f"step{index}.wav", text, voice)
                steps.append({"wav": str(wav)})
            else:
                steps.append(step)
        script = folder / "script.yaml"
        script.write_text(yaml.safe_dump(steps))
        return script

    def _run(self, name: str, plan: CallPlan) -> Conversation:
        script = self._script(name, plan)
        if plan.record is not None:
            put_record(self.engine, plan.number, plan.record)
        refer_log = self.folder / name / "refers.jsonl"
        with self._lock:
            now = time.monotonic()
            wait = max(0.0, self._next_start - now)
            self._next_start = now + wait + self.stagger_s
        if self._closed.wait(wait):
            raise RuntimeError(f"{name}: not called (closed)")
        started = time.monotonic()
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError(f"{name}: not called (closed)")
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.clinic", self.engine.uri(), "--from",
                 plan.number, "--script", str(script), "--config", str(self.caller_settings),
                 "--record",
                 str(self.folder / name / "heard.wav"), "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=Path(__file__).resolve().parents[2],
                env={**os.environ, "CLINIC_REFER_LOG": str(refer_log)})
            self._procs.append(proc)
        try:
            out, err = proc.communicate(timeout=plan.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(10)
            raise RuntimeError(f"{name}: the call did not end within {plan.timeout:.0f} s:\n"
                               f"{err[-3000:]}") from None
        seconds = time.monotonic() - started
        outcome = next((json.loads(line) for line in reversed(out.splitlines())
                        if line.startswith("{")), None)
        if outcome is None:
            raise RuntimeError(f"{name}: dial printed no outcome (exit {proc.returncode}):\n"
                               f"{out[-2000:]}\n{err[-3000:]}")
        refers = ([json.loads(line)["refer_to"] for line in refer_log.read_text().splitlines()]
                  if refer_log.exists() else [])
        return self._engine_side(plan.number, outcome, refers, seconds)

    def _engine_side(self, number: str, outcome: dict[str, Any], refers: list[str],
                     seconds: float, timeout: float = 15.0) -> Conversation:
        """The call's CDR, events and turns, once the engine has written its end."""
        deadline = time.monotonic() + timeout
        while True:
            with _store(self.engine) as store:
                mine = [c for c in store.recent_calls(100)
                        if (m := _FROM_USER.match(c.from_uri)) and m.group(1) == number]
                if len(mine) == 1 and mine[0].ended_at is not None:
                    call = mine[0]
                    turns, events = store.turns_for(call.id), store.events_for(call.id)
                    log = [line for line in self.engine.log.splitlines()
                           if call.id[:8] in line]
                    if any("flow ended" in line for line in log) or time.monotonic() > deadline:
                        record = store.get_record("appointment", number)
                        return Conversation(number, outcome, call, list(turns), list(events),
                                            refers, log, seconds, record)
            if time.monotonic() > deadline:
                raise AssertionError(f"the engine has {len(mine)} finished call(s) from "
                                     f"{number} (want 1); outcome: {outcome}")
            time.sleep(0.2)


def _dial_with_refer_spy() -> None:
    """`callcenter dial`, noting each REFER the caller receives (then declined as usual)."""
    import sip.pj_call as pj_call
    from callcenter.cli import main

    refer_log = os.environ.get("CLINIC_REFER_LOG")
    declines = pj_call.PjCall.onCallTransferRequest

    def spy(self: Any, prm: Any) -> None:
        if refer_log:
            with open(refer_log, "a", encoding="utf-8") as out:
                out.write(json.dumps({"refer_to": str(prm.dstUri)}) + "\n")
        declines(self, prm)

    pj_call.PjCall.onCallTransferRequest = spy  # type: ignore[method-assign]
    main(["dial", *sys.argv[1:]], prog_name="callcenter")


if __name__ == "__main__":
    _dial_with_refer_spy()
