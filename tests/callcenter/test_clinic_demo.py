"""The clinic demo over real calls: speech made with piper, heard by Whisper."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import CONFIG_DIR
from dialog.flow_loader import load_flow
from dialog.prompts import static_prompts
from tests.support.clinic import call_events, caller_turns, clinic_engine, get_record
from tests.support.processes import EngineProcess, callcenter_cmd, dial_result, start_dial

pytestmark = pytest.mark.e2e


VOICE_CALLER, KEYS_CALLER = "+15551230001", "+15551230002"
DESK_CALLER = "1000"  # a softphone's usual user, also in the demo records
FLOW = load_flow(CONFIG_DIR / "flows" / "clinic.yaml").spec


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One engine running the clinic flow for the whole module (models load once)."""
    engine = clinic_engine(tmp_path_factory.mktemp("clinic"))
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def demo_calls(clinic: EngineProcess, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """The module's two demo calls, placed at once (each is ~45 s of real
    time), so the tests below only wait for their own outcome."""
    folder = tmp_path_factory.mktemp("demo")
    script, desk = folder / "cancel.yaml", folder / "front-desk.yaml"
    script.write_text("- wait_prompt: true\n- dtmf: '2'\n- wait_prompt: true\n"
                      "- dtmf: '1'\n- wait_prompt: true\n")
    desk.write_text("- wait_prompt: true\n- dtmf: '0'\n- wait_prompt: true\n"
                    "- wait_prompt: true\n")
    calls = {
        "voice": start_dial(clinic.uri(), "--from", VOICE_CALLER, "--say",
                            "I would like to confirm my appointment"),
        "keys": start_dial(clinic.uri(), "--from", KEYS_CALLER, "--script", str(script)),
        "front_desk": start_dial(clinic.uri(), "--from", DESK_CALLER, "--script", str(desk)),
    }
    yield calls
    for proc in calls.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_confirm_by_voice(clinic: EngineProcess,
                          demo_calls: dict[str, subprocess.Popen[str]]) -> None:
    outcome = dial_result(demo_calls["voice"], timeout=150)

    engine_said = " ".join(t["text"] for t in outcome["conversation"]
                           if t["speaker"] == "engine").lower()
    # The caller's own Whisper heard the closing "Goodbye!" once as "bye.".
    assert "confirmed" in engine_said and "bye" in engine_said, outcome["conversation"]
    assert get_record(clinic, VOICE_CALLER)["status"] == "confirmed"
    caller = [t for t in caller_turns(clinic, VOICE_CALLER) if t.speaker == "caller"]
    assert caller and "confirm" in caller[0].text.lower()
    assert caller[0].intent is not None


def test_dtmf_only_cancel(clinic: EngineProcess,
                          demo_calls: dict[str, subprocess.Popen[str]]) -> None:
    dial_result(demo_calls["keys"], timeout=150)

    assert get_record(clinic, KEYS_CALLER)["status"] == "cancelled"
    states = [t.state for t in caller_turns(clinic, KEYS_CALLER) if t.speaker == "caller"]
    assert len(states) == 2


def test_the_front_desk_with_nobody_there_says_so_at_once(
        clinic: EngineProcess, demo_calls: dict[str, subprocess.Popen[str]]) -> None:
    """The shipped flow has no REFER target: with no front-desk agent logged
    in, "Connecting you" is followed at once by the flow's "unavailable"."""
    outcome = dial_result(demo_calls["front_desk"], timeout=150)
    why = outcome["conversation"]
    assert FLOW.escalation is not None
    said = [t for t in caller_turns(clinic, DESK_CALLER) if t.speaker == "engine"]
    texts = [" ".join(t.text.split()) for t in said]
    connecting = texts.index(FLOW.escalation.agent_say)
    assert texts[connecting + 1] == " ".join(FLOW.escalation.unavailable.split()), texts
    gap_s = (said[connecting + 1].started_at - said[connecting].ended_at).total_seconds()
    assert gap_s < 1.5, (gap_s, texts)  # no REFER pending in silence
    assert "transfer" not in [e.kind for e in call_events(clinic, DESK_CALLER)], why
    heard = " ".join(t["text"] for t in why if t["speaker"] == "engine").lower()
    assert "nobody at the front desk" in heard, why


def test_bad_flow_refuses_to_start_and_says_where(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "broken.yaml").write_text(
        "flow: broken\nstart: hello\nqueues:\n  desk: {uri: 'sip:desk@127.0.0.1'}\n"
        "escalation:\n  queue: desk\n  say: One moment.\n  agent_say: Connecting you.\n"
        "  unavailable: Nobody is free. Goodbye.\n"
        "states:\n  hello:\n    say: Hi.\n    goto: nowhere\n")
    config = tmp_path / "site.yaml"
    config.write_text(f"engine:\n  flow: broken\n  flows_dir: {flows}\n")

    done = subprocess.run(callcenter_cmd("serve", "--config", str(config), "--sip-port", "0",
                                         "--data-dir", str(tmp_path / "data")),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert re.search(r"broken\.yaml:13: unknown target state .nowhere.", done.stderr), (
        done.stderr[-2000:])


def test_fixed_prompts_are_rendered_ahead(clinic: EngineProcess) -> None:
    """In the background, calls or not, every fixed prompt of the flow is
    rendered into the disk cache at 8 and 16 kHz."""
    prompts = static_prompts(load_flow(CONFIG_DIR / "flows" / "clinic.yaml").spec)
    deadline = time.monotonic() + 120
    pattern = re.compile(rf"{len(prompts)} fixed prompt\(s\) of flow 'clinic' rendered ahead")
    while not pattern.search(clinic.log):
        assert time.monotonic() < deadline, clinic.log[-2000:]
        time.sleep(0.5)
    cached = list((clinic.data_dir / "tts-cache").rglob("*.pcm"))
    assert len(cached) >= 2 * len(prompts)  # a file per sentence and rate
    status = clinic.status()  # SIGUSR1: the node's counters, speech included
    assert status["conversations"] == 0 and status["asr_busy"] == 0
    assert status["tts_sentences_rendered"] >= len(cached)
    assert status["tts_cache_memory_hits"] > 0  # the calls above said fixed prompts again
