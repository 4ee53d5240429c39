"""Checks that span a whole flow, run after the model has accepted its shape.

`check_flow` returns (path, message) pairs; the loader turns each path into
the line it came from. Kept apart from the loader so each rule reads alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from callcenter.core.yaml_lines import Path
from dialog.flow import (
    BUILTIN_VARIABLES,
    OPEN_VARIABLES,
    Action,
    FlowSpec,
    IntentSpec,
    StateSpec,
)
from dialog.intents import GLOBAL_INTENTS
from dialog.slots import SlotType
from dialog.templates import TemplateError, template_fields

Problem = tuple[Path, str]
_GLOBAL_KEYS = {i.dtmf: i.name for i in GLOBAL_INTENTS}
_SLOT_RULES = {"min_length": SlotType.DIGITS, "max_length": SlotType.DIGITS,
               "min": SlotType.NUMBER, "max": SlotType.NUMBER, "future": SlotType.DATE,
               "with_time": SlotType.DATE}


def _actions(spec: FlowSpec) -> Iterator[tuple[Path, Action]]:
    for name, state in spec.states.items():
        for i, action in enumerate(state.do):
            yield ("states", name, "do", i), action
        for intent_name, intent in (state.menu or {}).items():
            for i, action in enumerate(intent.do):
                yield ("states", name, "menu", intent_name, "do", i), action


def _record_variables(spec: FlowSpec) -> dict[str, str]:
    """Variable name -> record kind, for variables that hold a record."""
    found: dict[str, str] = {}
    for _, action in _actions(spec):
        if action.lookup is not None:
            found[action.lookup.into or action.lookup.record] = action.lookup.record
    return found


def _known_variables(spec: FlowSpec) -> set[str]:
    known = set(BUILTIN_VARIABLES) | set(spec.variables) | set(_record_variables(spec))
    for state in spec.states.values():
        if state.ask is not None:
            known.add(state.ask.slot)
            if state.ask.with_time:
                known.add(state.ask.with_time)
    for _, action in _actions(spec):
        if action.set is not None:
            known.update(action.set)
    return known


def _edges(state: StateSpec) -> Iterator[tuple[Path, str]]:
    """(relative path, target state) of every way out of `state`."""
    if state.goto is not None:
        yield ("goto",), state.goto
    for i, branch in enumerate(state.branch or []):
        yield ("branch", i, "goto"), branch.goto
    if state.ask is not None:
        for key in ("yes", "no"):
            target = getattr(state.ask, key)
            if target is not None:
                yield ("ask", key), target
    for i, action in enumerate(state.do):
        yield from _transfer_edges(("do", i), action)
    for name, intent in (state.menu or {}).items():
        if intent.goto is not None:
            yield ("menu", name, "goto"), intent.goto
        for i, action in enumerate(intent.do):
            yield from _transfer_edges(("menu", name, "do", i), action)


def _transfer_edges(where: Path, action: Action) -> Iterator[tuple[Path, str]]:
    """A transfer's ways on: when it failed, and when an agent gave the caller back."""
    if action.transfer is not None:
        for key in ("on_fail", "on_return"):
            target = getattr(action.transfer, key)
            if target is not None:
                yield (*where, "transfer", key), target


def _check_actions(actions: list[Action], where: Path, then: bool) -> Iterator[Problem]:
    """Ending actions come last, and nothing (`then`) may follow them."""
    for i, action in enumerate(actions):
        if action.ends_call and (i < len(actions) - 1 or then):
            yield (*where, i), f"'{action.kind}' ends the call here: nothing after it would run"


def _check_menu(where: Path, menu: dict[str, IntentSpec]) -> Iterator[Problem]:
    keys: dict[str, str] = {}
    for name, intent in menu.items():
        at = (*where, "menu", name)
        reserved = next((g for g in GLOBAL_INTENTS if g.name == name), None)
        if reserved is not None:
            if intent.dtmf not in (None, reserved.dtmf):
                yield (*at, "dtmf"), f"'{name}' always uses key {reserved.dtmf}"
        elif intent.dtmf is None:
            yield at, (f"menu choice '{name}' has no DTMF key: every menu choice needs a "
                       f"keypad alternative (dtmf: 1-9)")
        elif intent.dtmf in _GLOBAL_KEYS:
            yield (*at, "dtmf"), (f"key {intent.dtmf} is reserved for "
                                  f"'{_GLOBAL_KEYS[intent.dtmf]}' in every state")
        elif intent.dtmf in keys:
            yield (*at, "dtmf"), f"DTMF key {intent.dtmf} is already used by '{keys[intent.dtmf]}'"
        if intent.dtmf is not None:
            keys.setdefault(intent.dtmf, name)
        if reserved is None and not intent.keywords and not intent.phrases:
            yield at, f"menu choice '{name}' has no keywords or phrases to match"
        ends = bool(intent.do) and intent.do[-1].ends_call
        if intent.goto is None and not ends:
            yield at, f"menu choice '{name}' needs a goto (or to end with transfer or hangup)"
        yield from _check_actions(intent.do, (*at, "do"), intent.goto is not None)


def _check_state(name: str, state: StateSpec) -> Iterator[Problem]:
    at: Path = ("states", name)
    moves = state.goto is not None or state.branch is not None
    if state.goto is not None and state.branch is not None:
        yield (*at, "branch"), "give goto or branch, not both"
    if state.menu is not None and state.ask is not None:
        yield (*at, "ask"), "a state has a menu or an ask, not both"
    if state.listens and not (state.say and state.say.strip()):
        yield at, f"state '{name}' listens but has no prompt: add 'say'"
    ends = bool(state.do) and state.do[-1].ends_call
    yield from _check_actions(state.do, (*at, "do"),
                              moves or state.listens or state.say is not None)
    if state.menu is not None:
        if moves:
            yield (*at, "goto" if state.goto else "branch"), "a menu moves on by its choices"
        if not state.menu:
            yield (*at, "menu"), "a menu needs at least one choice"
        yield from _check_menu(at, state.menu)
    elif state.ask is not None:
        ask = state.ask
        for rule, slot_type in _SLOT_RULES.items():
            if rule in ask.model_fields_set and ask.type is not slot_type:
                yield (*at, "ask", rule), f"'{rule}' applies to {slot_type.value} slots only"
        pair = ask.yes is not None or ask.no is not None
        if pair and ask.type is not SlotType.YES_NO:
            yield (*at, "ask"), "'yes'/'no' targets apply to yes_no slots only"
        elif pair and (ask.yes is None or ask.no is None):
            yield (*at, "ask"), "give both 'yes' and 'no' targets"
        elif pair and moves:
            yield (*at, "ask"), "give yes/no targets or goto/branch, not both"
        elif not pair and not moves:
            yield at, f"state '{name}' needs a goto or branch after its ask"
    elif not moves and not ends:
        yield at, f"state '{name}' leads nowhere: add goto or branch, or end with hangup/transfer"
    for i, branch in enumerate(state.branch or []):
        last = i == len(state.branch or []) - 1
        if branch.when is None and not last:
            yield (*at, "branch", i), "a branch without 'when' must come last"
        if last and branch.when is not None:
            yield (*at, "branch", i), "the last branch needs no 'when': it is the fallback"


def flow_texts(spec: FlowSpec) -> Iterator[tuple[Path, str]]:
    """Every template in the flow, with its path (prompts, and the strings
    `set` actions give variables)."""
    for key in ("say", "agent_say", "unavailable"):
        yield ("escalation", key), getattr(spec.escalation, key)
    if spec.escalation.upset is not None:
        yield ("escalation", "upset", "say"), spec.escalation.upset.say
    for key in ("no_input", "no_match"):
        if getattr(spec.reprompt, key):
            yield ("reprompt", key), getattr(spec.reprompt, key)
    for name, state in spec.states.items():
        for key in ("say",):
            if state.say is not None:
                yield ("states", name, key), state.say
        for key in ("no_input", "no_match"):
            if getattr(state.reprompt, key):
                yield ("states", name, "reprompt", key), getattr(state.reprompt, key)
        if state.ask is not None and state.ask.invalid:
            yield ("states", name, "ask", "invalid"), state.ask.invalid
    for where, action in _actions(spec):
        if action.set is not None:
            for key, value in action.set.items():
                if isinstance(value, str):
                    yield (*where, "set", key), value
        if action.say is not None:
            yield (*where, "say"), action.say
        if action.hangup is not None:
            yield (*where, "hangup"), action.hangup.say
        if action.transfer is not None and action.transfer.say:
            yield (*where, "transfer", "say"), action.transfer.say
        for kind, op in (("lookup", action.lookup), ("update", action.update)):
            if op is not None:
                yield (*where, kind, "key"), op.key
        if action.update is not None:
            for key, value in action.update.fields.items():
                if isinstance(value, str):
                    yield (*where, "update", "fields", key), value


def _check_reference(where: Path, ref: str, known: set[str],
                     records: dict[str, list[str]]) -> Iterator[Problem]:
    name, _, attribute = ref.partition(".")
    if name not in known:
        yield where, f"unknown variable '{name}'"
    elif attribute and name in records and attribute not in records[name]:
        yield where, f"'{name}' has no field '{attribute}' (fields: {', '.join(records[name])})"
    elif attribute and name not in records and name not in OPEN_VARIABLES:
        yield where, f"'{name}' is not a record; '{ref}' cannot be read"


def _check_references(spec: FlowSpec) -> Iterator[Problem]:
    known = _known_variables(spec)
    records = {var: spec.records[kind].fields
               for var, kind in _record_variables(spec).items() if kind in spec.records}
    for where, text in flow_texts(spec):
        try:
            fields = template_fields(text)
        except TemplateError as exc:
            yield where, str(exc)
            continue
        for ref in fields:
            dotted = ref.name + (f".{ref.attribute}" if ref.attribute else "")
            yield from _check_reference(where, dotted, known, records)
    for name, state in spec.states.items():
        for i, branch in enumerate(state.branch or []):
            if branch.when is not None:
                yield from _check_reference(("states", name, "branch", i, "when"), branch.when,
                                            known, records)
    for where, action in _actions(spec):
        for kind, op in (("lookup", action.lookup), ("update", action.update)):
            if op is not None and op.record not in spec.records:
                yield (*where, kind, "record"), f"unknown record kind '{op.record}'"
        if action.update is not None and action.update.record in spec.records:
            allowed = spec.records[action.update.record].fields
            for key in action.update.fields:
                if key not in allowed:
                    yield (*where, "update", "fields", key), (
                        f"'{action.update.record}' has no field '{key}'")
        if action.transfer is not None and action.transfer.queue is not None and (
                action.transfer.queue not in spec.queues):
            yield (*where, "transfer"), f"unknown queue '{action.transfer.queue}'"
    if spec.escalation.queue not in spec.queues:
        yield ("escalation", "queue"), f"unknown queue '{spec.escalation.queue}'"
    yield from _check_upset(spec)


def _check_upset(spec: FlowSpec) -> Iterator[Problem]:
    upset = spec.escalation.upset
    if upset is None:
        return
    where = ("escalation", "upset")
    if upset.queue is not None and upset.queue not in spec.queues:
        yield (*where, "queue"), f"unknown queue '{upset.queue}'"
    for i, name in enumerate(upset.states or []):
        if name not in spec.states:
            yield (*where, "states", i), f"unknown state '{name}'"
        elif not spec.states[name].listens:
            yield (*where, "states", i), (f"state '{name}' does not listen (no menu or ask): "
                                          "the caller is never heard there")


def _check_graph(spec: FlowSpec) -> Iterator[Problem]:
    if spec.start not in spec.states:
        yield ("start",), f"unknown start state '{spec.start}'"
    for name, state in spec.states.items():
        for rel, target in _edges(state):
            if target not in spec.states:
                yield ("states", name, *rel), f"unknown target state '{target}'"
    back = spec.escalation.on_return
    if back is not None and back not in spec.states:
        yield ("escalation", "on_return"), f"unknown target state '{back}'"
    seen: set[str] = set()
    todo = [spec.start] if spec.start in spec.states else []
    if back in spec.states and any(s.listens for s in spec.states.values()):
        todo.append(back)  # an escalation can happen in any state that listens
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(t for _, t in _edges(spec.states[current]) if t in spec.states)
    if spec.start in spec.states:
        for name in spec.states:
            if name not in seen:
                yield ("states", name), f"state '{name}' is unreachable from '{spec.start}'"
    yield from _check_silent_loops(spec)


def _check_silent_loops(spec: FlowSpec) -> Iterator[Problem]:
    """A loop of states none of which listens would spin forever."""
    quiet = {n: [t for _, t in _edges(s) if t in spec.states and not spec.states[t].listens]
             for n, s in spec.states.items() if not s.listens}
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return trail[trail.index(node):]
        if node in done:
            return None
        for nxt in quiet.get(node, []):
            cycle = visit(nxt, [*trail, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for name in quiet:
        cycle = visit(name, [])
        if cycle:
            yield ("states", cycle[0]), ("states loop without ever listening: "
                                         + " -> ".join([*cycle, cycle[0]]))
            return


def check_flow(spec: FlowSpec) -> list[Problem]:
    """Every cross-state problem of `spec` (empty when the flow is sound)."""
    problems: list[Problem] = []
    for name, state in spec.states.items():
        problems.extend(_check_state(name, state))
    problems.extend(_check_graph(spec))
    problems.extend(_check_references(spec))
    return problems
