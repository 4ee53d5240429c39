"""The agents and queues files: the shipped examples load; every bad value names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.agents_config import AgentMode, StartState, load_agents
from acd.config import load_acd_config
from acd.config_problems import AcdConfigError
from acd.queues_config import (
    CallbackAtLimit,
    GoodbyeAtLimit,
    Strategy,
    TransferAtLimit,
    VoicemailAtLimit,
    load_queues,
)
from callcenter.core.errors import SettingsError

CONFIG = Path(__file__).resolve().parents[2] / "config"

AGENTS = """\
agents:
  "1001":
    name: Dana
    pin: "0042"
    skills: {front_desk: 8, billing: 5}
  "1002":
    name: Sam
    pin: "123456"
    mode: on_demand
    phone: sip:1002@10.0.0.5:5070
    skills: [billing]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(exc: pytest.ExceptionInfo[AcdConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_the_shipped_files_load_and_fit_the_clinic_flow() -> None:
    acd = load_acd_config(CONFIG / "agents.yaml", CONFIG / "queues.yaml")
    assert acd.warnings == []
    assert "front-desk" in acd.queues  # config/flows/clinic.yaml escalates there
    assert all(len(a.pin) >= 4 for a in acd.agents.values())
    assert {q.strategy for q in acd.queues.values()} == set(Strategy)
    assert acd.session.number == "200" and acd.on_demand.max_misses == 2


def test_a_good_agents_file(tmp_path: Path) -> None:
    agents = load_agents(_write(tmp_path, "agents.yaml", AGENTS))
    dana, sam = agents.agents["1001"], agents.agents["1002"]
    assert dana.id == "1001" and dana.pin == "0042" and dana.mode is AgentMode.SESSION
    assert sam.skills == {"billing": 1} and sam.phone == "sip:1002@10.0.0.5:5070"
    assert agents.session.keys.ready == "1" and agents.on_demand.max_misses == 2
    assert agents.skills() == {"front_desk", "billing"}


def test_bad_agents_name_file_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "agents.yaml", """\
session:
  keys: {ready: "1", not_ready: "1"}
  not_ready_reasons:
    "1": no_answer
    x: lunch
agents:
  "1001":
    name: Dana
    pin: 0042
    skills: {front_desk: 11, Bad: 2}
  "12a":
    name: X
    pin: "12"
  "1003":
    name: Y
    pin: "1234"
    mode: on_demand
  "1004":
    name: Z
    pin: "1234"
    phone: http://example.com
    colour: red
  "1005":
    pin: "1234"
""")
    with pytest.raises(AcdConfigError) as exc:
        load_agents(path)
    problems = _problems(exc)
    expected = [
        (2, "session.keys: every session key must be a different DTMF key"),
        (4, "session.not_ready_reasons.1: 'no_answer' is a reason the engine gives itself"),
        (5, "session.not_ready_reasons.x: 'x' is no DTMF key"),
        (9, "agents.1001.pin: must be written in quotes"),
        (10, "agents.1001.skills.front_desk: Input should be less than or equal to 10"),
        (10, "agents.1001.skills.Bad: 'Bad' is no valid name"),
        (11, "agents.12a: an agent id must be 1 to 10 digits"),
        (13, "agents.12a.pin: a PIN must be 4 to 8 digits"),
        (14, "agents.1003: an on_demand agent needs a phone"),
        (21, "agents.1004.phone: 'http://example.com' is no SIP URI"),
        (22, "agents.1004: unknown key 'colour'"),
        (23, "agents.1005: missing key 'name'"),
    ]
    for line, text in expected:
        assert any(p.startswith(f"{path}:{line}: {text}") for p in problems), (line, problems)
    assert len(problems) == len(expected)
    assert isinstance(exc.value, SettingsError)  # stops the engine like a bad setting


def test_on_demand_agents_may_start_logged_in_session_agents_may_not(tmp_path: Path) -> None:
    agents = load_agents(_write(tmp_path, "agents.yaml", AGENTS.replace(
        "    mode: on_demand\n", "    mode: on_demand\n    at_start: not_ready\n")))
    assert agents.agents["1002"].at_start is StartState.NOT_READY
    assert agents.agents["1001"].at_start is StartState.LOGGED_OUT
    assert agents.on_demand.tone_s == 0.3
    path = _write(tmp_path, "bad.yaml", AGENTS.replace(
        '    pin: "0042"\n', '    pin: "0042"\n    at_start: ready\n'))
    with pytest.raises(AcdConfigError) as exc:
        load_agents(path)
    assert _problems(exc) == [f"{path}:2: agents.1001: at_start is for on_demand agents; a "
                              "session agent logs in by calling the session number"]


def test_an_agent_id_twice_is_refused_at_its_second_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "agents.yaml", AGENTS + '  "1001":\n    name: Again\n    pin: "9999"\n')
    with pytest.raises(AcdConfigError) as exc:
        load_agents(path)
    assert _problems(exc) == [f"{path}:12: key '1001' given twice"]


def test_yaml_syntax_errors_and_missing_files_name_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "agents.yaml", "agents:\n  '1001': {name: [\n")
    with pytest.raises(AcdConfigError) as exc:
        load_agents(path)
    assert str(exc.value).startswith(f"{path}:")
    with pytest.raises(AcdConfigError, match="cannot read the file"):
        load_agents(tmp_path / "nope.yaml")


def test_a_good_queues_file_with_every_at_limit_form(tmp_path: Path) -> None:
    agents = load_agents(_write(tmp_path, "agents.yaml", AGENTS))
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "hold.wav").write_bytes(b"RIFF")
    queues, warnings = load_queues(_write(tmp_path, "queues.yaml", """\
queues:
  front-desk:
    skills: {front_desk: 1}
    hold_audio: sounds/hold.wav
    at_limit: {action: callback, key: "5"}
    callback_key: "1"
  billing:
    skills: [billing]
    strategy: best_skill
    max_length: 3
    at_limit: {action: voicemail, dir: vm}
  overflow:
    strategy: round_robin
    max_wait_s: null
    at_limit: {action: transfer, uri: "tel:+15551234567", say: Transferring you.}
  plain: {}
"""), agents)
    q = queues.queues
    assert warnings == []
    assert q["front-desk"].hold_audio == tmp_path / "sounds" / "hold.wav"
    assert q["front-desk"].at_limit == CallbackAtLimit(action="callback", key="5")
    assert q["billing"].skills == {"billing": 1} and q["billing"].max_length == 3
    assert isinstance(q["billing"].at_limit, VoicemailAtLimit)
    assert q["billing"].at_limit.dir == tmp_path / "vm"
    assert isinstance(q["overflow"].at_limit, TransferAtLimit)
    assert q["overflow"].max_wait_s is None
    assert q["plain"].at_limit == GoodbyeAtLimit(action="goodbye")
    assert q["plain"].strategy is Strategy.LONGEST_IDLE
    assert q["plain"].entry_priority() == 0 and q["plain"].entry_priority(escalated=True) == 10


def test_bad_queues_name_file_line_and_key(tmp_path: Path) -> None:
    agents = load_agents(_write(tmp_path, "agents.yaml", AGENTS))
    path = _write(tmp_path, "queues.yaml", """\
queues:
  a:
    strategy: fastest
    at_limit: {action: transfer, uri: "http://x"}
    hold_audio: missing.wav
    announce_every_s: 5
    callback_key: 1
  b:
    at_limit: {action: voicemail, max_s: 1}
    max_wait_s: 0
  "bad name":
    max_length: 0
    at_limit: dance
  c:
    at_limit: {action: transfer}
    wrap_up: 10
""")
    with pytest.raises(AcdConfigError) as exc:
        load_queues(path, agents)
    problems = _problems(exc)
    expected = [
        (3, "queues.a.strategy: Input should be 'longest_idle', 'best_skill' or 'round_robin'"),
        (4, "queues.a.at_limit.uri: 'http://x' is no sip:, sips: or tel: URI"),
        (5, f"queues.a.hold_audio: no such file: {tmp_path / 'missing.wav'}"),
        (6, "queues.a.announce_every_s: announcements need at least 10 s"),
        (7, "queues.a.callback_key: must be written in quotes"),
        (9, "queues.b.at_limit.max_s: Input should be greater than or equal to 5"),
        (10, "queues.b.max_wait_s: Input should be greater than 0"),
        (11, "queues.bad name: 'bad name' is no valid queue name"),
        (12, "queues.bad name.max_length: Input should be greater than or equal to 1"),
        (13, "queues.bad name.at_limit: unknown action 'dance'; expected one of"),
        (15, "queues.c.at_limit: missing key 'uri'"),
        (16, "queues.c: unknown key 'wrap_up'"),
    ]
    for line, text in expected:
        assert any(p.startswith(f"{path}:{line}: {text}") for p in problems), (line, problems)
    assert len(problems) == len(expected)


def test_a_skill_no_agent_has_is_an_error_a_skill_mix_nobody_has_a_warning(
        tmp_path: Path) -> None:
    agents = load_agents(_write(tmp_path, "agents.yaml", AGENTS))
    path = _write(tmp_path, "queues.yaml", """\
queues:
  typo:
    skills: {frontdesk: 1}
  expert:
    skills:
      front_desk: 9
      billing: 1
""")
    with pytest.raises(AcdConfigError) as exc:
        load_queues(path, agents)
    assert _problems(exc) == [f"{path}:3: queues.typo.skills.frontdesk: "
                              "no agent has the skill 'frontdesk'"]
    path.write_text(path.read_text().replace("frontdesk", "billing"))
    _, warnings = load_queues(path, agents)
    assert [str(w) for w in warnings] == [
        f"{path}:5: queues.expert.skills: no agent has every required skill at its level: "
        "nobody can take this queue's calls"]


def test_problems_of_both_files_are_reported_together(tmp_path: Path) -> None:
    agents = _write(tmp_path, "agents.yaml", 'agents:\n  "1001": {name: D, pin: "1"}\n')
    queues = _write(tmp_path, "queues.yaml", "queues:\n  q:\n    priority: high\n")
    with pytest.raises(AcdConfigError) as exc:
        load_acd_config(agents, queues)
    assert _problems(exc) == [
        f"{agents}:2: agents.1001.pin: a PIN must be 4 to 8 digits",
        f"{queues}:3: queues.q.priority: Input should be a valid integer, unable to parse "
        "string as an integer",
    ]
