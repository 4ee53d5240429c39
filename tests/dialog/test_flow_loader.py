"""Flow files: the shipped ones load; each kind of mistake is named with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.errors import SettingsError
from dialog.flow_loader import FlowError, load_flow, load_flows

FLOWS = Path(__file__).resolve().parents[2] / "config" / "flows"

BASE = """\
flow: mini
start: menu
queues: {desk: {uri: "sip:desk@example.net"}}
escalation: {queue: desk}
records:
  account: {fields: [name, balance]}
states:
  menu:
    say: Press 1 or say hello.
    do:
      - lookup: {record: account, key: "{caller_number}"}
    menu:
      hello:
        dtmf: 1
        keywords: [hello]
        goto: bye
  bye:
    do:
      - hangup: Goodbye
"""


def problems(tmp_path: Path, text: str, name: str = "bad.yaml") -> list[str]:
    """The problems of `text` as 'file:line: message', with the folder stripped."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert isinstance(caught.value, SettingsError)
    return [str(p).replace(f"{tmp_path}/", "") for p in caught.value.problems]


def edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_the_shipped_flows_load() -> None:
    flows = load_flows(FLOWS)
    assert "clinic" in flows
    clinic = flows["clinic"]
    assert clinic.spec.states["confirm_cancel"].ask is not None
    assert clinic.spec.states["confirm_cancel"].ask.yes == "cancelled"  # not YAML's True


def test_base_flow_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_flow(path).name == "mini"


@pytest.mark.parametrize(("text", "expected"), [
    (edit("    say: Press", "    colour: red\n    say: Press"),
     "bad.yaml:9: states.menu: unknown key 'colour'"),
    (edit("goto: bye", "goto: nowhere"),
     "bad.yaml:16: unknown target state 'nowhere'"),
    (BASE + "  orphan:\n    do:\n      - hangup: Bye\n",
     "bad.yaml:20: state 'orphan' is unreachable from 'menu'"),
    (edit("    say: Press 1 or say hello.\n", ""),
     "bad.yaml:8: state 'menu' listens but has no prompt: add 'say'"),
    (edit("say hello.", "say hello, {name}."),
     "bad.yaml:9: unknown variable 'name'"),
    (edit("say hello.", "say hello, {account.colour}."),
     "bad.yaml:9: 'account' has no field 'colour' (fields: name, balance)"),
    (edit("say hello.", "say hello, {caller_number:loud}."),
     "bad.yaml:9: unknown format 'loud' in {caller_number:loud}; known: digits, iso, spoken"),
    (edit("say hello.", "say hello, {caller_number.area}."),
     "bad.yaml:9: 'caller_number' is not a record; 'caller_number.area' cannot be read"),
    (edit("        goto: bye\n", "        goto: bye\n      hi:\n        dtmf: 1\n"
                                  "        keywords: [hi]\n        goto: bye\n"),
     "bad.yaml:18: DTMF key 1 is already used by 'hello'"),
    (edit("        dtmf: 1\n", ""),
     "bad.yaml:13: menu choice 'hello' has no DTMF key: every menu choice needs a keypad "
     "alternative (dtmf: 1-9)"),
    (edit("dtmf: 1", "dtmf: 0"),
     "bad.yaml:14: key 0 is reserved for 'agent' in every state"),
    (edit("dtmf: 1", "dtmf: 12"),
     "bad.yaml:14: states.menu.menu.hello.dtmf: String should match pattern '^[0-9*#]$'"),
    (edit("{queue: desk}", "{queue: billing}"),
     "bad.yaml:4: unknown queue 'billing'"),
    (edit("record: account,", "record: acount,"),
     "bad.yaml:11: unknown record kind 'acount'"),
    (edit("      - hangup: Goodbye", "      - hangup: Goodbye\n      - say: And more"),
     "bad.yaml:19: 'hangup' ends the call here: nothing after it would run"),
    (edit("      - hangup: Goodbye", "      - say: Goodbye"),
     "bad.yaml:17: state 'bye' leads nowhere: add goto or branch, or end with hangup/transfer"),
    (edit("      - hangup: Goodbye", "      - set: {x: 1}\n    goto: bye"),
     "bad.yaml:17: states loop without ever listening: bye -> bye"),
    (edit("flow: mini", "flow: mini\ntimezone: Mars/Olympus"),
     "bad.yaml:2: unknown time zone 'Mars/Olympus'"),
    (edit("start: menu\n", ""),
     "bad.yaml:1: missing key 'start'"),
    (edit("      - hangup: Goodbye", "      - {hangup: Goodbye, say: Bye}"),
     "bad.yaml:19: states.bye.do.0: an action is exactly one of: set, lookup, update, say, "
     "transfer, hangup (got say, hangup)"),
    (edit("keywords: [hello]", "keywords: [hello\n"),
     "bad.yaml:17: invalid YAML: expected ',' or ']', but got ':'"),
    (edit("        goto: bye\n", "        goto: bye\n        goto: menu\n"),
     "bad.yaml:17: key 'goto' given twice"),
], ids=["unknown-key", "unknown-target", "unreachable", "no-prompt", "unknown-variable",
        "unknown-field", "unknown-format", "not-a-record", "dtmf-twice", "menu-without-dtmf",
        "reserved-key", "bad-type", "unknown-queue", "unknown-record", "action-after-end",
        "leads-nowhere", "silent-loop", "unknown-timezone", "missing-key", "two-actions-in-one",
        "yaml-syntax", "duplicate-key"])
def test_each_mistake_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, text)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = edit("goto: bye", "goto: nowhere").replace("say hello.", "say {who}.")
    found = problems(tmp_path, text)
    assert found[0] == "bad.yaml:9: unknown variable 'who'"
    assert "bad.yaml:16: unknown target state 'nowhere'" in found
    assert any("'bye' is unreachable" in p for p in found)


def test_a_folder_reports_every_bad_file_and_shared_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(edit("goto: bye", "goto: gone"), encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)
    lines = str(caught.value).replace(f"{tmp_path}/", "").splitlines()
    assert "b.yaml:1: flow name 'mini' is also used by a.yaml" in lines
    assert "c.yaml:16: unknown target state 'gone'" in lines


def test_yaml_one_one_words_stay_words(tmp_path: Path) -> None:
    text = edit("keywords: [hello]", "keywords: [hello, yes, on]\n        phrases: [no]")
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    menu = load_flow(path).spec.states["menu"].menu
    assert menu is not None
    assert menu["hello"].keywords == ["hello", "yes", "on"] and menu["hello"].phrases == ["no"]
