"""What one caller turn means in a state: an intent, a slot value, or nothing.

Pure decisions for `DialogRunner`, apart so they can be read (and tested)
without the ports. Order of precedence: silence; then keys (0 and * are
global, any other key picks a menu choice or fills the slot); then speech
below the state's confidence floor counts as not understood; then the menu's
intents and the global ones together, or, in an ask, the global intents
first (by their words only: a spoken number is the slot's) and the slot
parser after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from dialog.flow import AskSpec, StateSpec
from dialog.intents import GLOBAL_INTENTS, Intent, IntentMatch, IntentMatcher, match_dtmf
from dialog.ports import CallerInput, InputKind, ListenSettings
from dialog.slots import Filled, Rejected, SlotResult, SlotRules, parse_slot

_GLOBAL_NAMES = frozenset(g.name for g in GLOBAL_INTENTS)


@dataclass(frozen=True)
class Heard:
    """The meaning of a turn. `label` names it for transcripts: an intent,
    a slot, "no_input" or "no_match"."""

    label: str
    intent: str | None = None
    filled: Filled | None = None
    rejected: bool = False
    score: float = 0.0


NO_INPUT = Heard("no_input")
NO_MATCH = Heard("no_match")


def slot_rules(ask: AskSpec) -> SlotRules:
    """The parser's rules for a flow's `ask`."""
    return SlotRules(type=ask.type, min_length=ask.min_length, max_length=ask.max_length,
                     minimum=ask.min, maximum=ask.max, future=ask.future,
                     with_time=ask.with_time is not None)


def state_intents(state: StateSpec) -> tuple[list[Intent], set[str]]:
    """The intents to match in `state` (its menu's, then the global ones it
    does not redefine), and the names the menu itself handles."""
    menu = state.menu or {}
    intents: list[Intent] = []
    for name, spec in menu.items():
        base = next((g for g in GLOBAL_INTENTS if g.name == name), None)
        keywords = (*spec.keywords, *(base.keywords if base else ()))
        phrases = (*spec.phrases, *(base.phrases if base else ()))
        dtmf = spec.dtmf or (base.dtmf if base is not None else None)
        intents.append(Intent(name, keywords, phrases, dtmf))
    intents.extend(g for g in GLOBAL_INTENTS if g.name not in menu)
    return intents, set(menu)


def _from_match(found: IntentMatch | None) -> Heard:
    if found is None:
        return NO_MATCH
    return Heard(found.intent, intent=found.intent, score=found.score)


def _from_slot(ask: AskSpec, result: SlotResult) -> Heard:
    if isinstance(result, Filled):
        return Heard(ask.slot, filled=result, score=1.0)
    if isinstance(result, Rejected):
        return Heard("no_match", rejected=True)
    return NO_MATCH


async def interpret(heard: CallerInput, state: StateSpec, intents: Sequence[Intent],
                    matcher: IntentMatcher, settings: ListenSettings, today: date) -> Heard:
    """Decide what `heard` means in `state`; `intents` are the menu's plus the global ones."""
    if heard.kind is InputKind.NO_INPUT:
        return NO_INPUT
    if heard.kind is InputKind.DTMF:
        keys = heard.digits.rstrip("#")
        if not keys:
            return NO_MATCH
        if len(keys) == 1 and keys in {g.dtmf for g in GLOBAL_INTENTS}:
            return _from_match(match_dtmf(keys, intents))
        if state.ask is not None:
            return _from_slot(state.ask, parse_slot(slot_rules(state.ask), dtmf=keys,
                                                    today=today))
        return _from_match(match_dtmf(keys, intents))
    text = heard.text.strip()
    if not text or heard.confidence < settings.min_confidence:
        return NO_MATCH
    if state.ask is None:
        return _from_match(await matcher.match(text, intents))
    # A number said to an ask is its answer, not a key's choice: "zero" to a
    # digit slot is a digit, not the key that reaches a person.
    wanted = await matcher.match(text, [replace(i, dtmf=None) for i in intents
                                        if i.name in _GLOBAL_NAMES])
    if wanted is not None:
        return _from_match(wanted)
    return _from_slot(state.ask, parse_slot(slot_rules(state.ask), text=text, today=today))
