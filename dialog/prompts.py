"""The fixed things a flow says, so they can be rendered before the first call.

    static_prompts(flow.spec)  -> ["Thank you for calling Riverside Clinic. ...", ...]

A prompt is static when its template has no fields: it sounds the same on
every call, so a synthesizer with a prompt cache can render it once, at
start, and no caller waits for it. Reprompts are returned on their own; the
runner joins them with the state's prompt, which the sentence-level cache
serves from the two parts.
"""

from __future__ import annotations

from collections.abc import Iterator

from dialog.flow import Action, FlowSpec, Reprompts
from dialog.templates import TemplateError, template_fields


def _action_texts(actions: list[Action]) -> Iterator[str | None]:
    for action in actions:
        yield action.say
        if action.transfer is not None:
            yield action.transfer.say
        if action.hangup is not None:
            yield action.hangup.say


def _reprompt_texts(reprompt: Reprompts) -> Iterator[str | None]:
    yield reprompt.no_input
    yield reprompt.no_match


def _all_texts(spec: FlowSpec) -> Iterator[str | None]:
    escalation = spec.escalation
    yield from (escalation.say, escalation.agent_say, escalation.unavailable)
    yield from _reprompt_texts(spec.reprompt)
    for state in spec.states.values():
        yield from _action_texts(state.do)
        yield state.say
        yield from _reprompt_texts(state.reprompt)
        if state.ask is not None:
            yield state.ask.invalid
        for choice in (state.menu or {}).values():
            yield from _action_texts(choice.do)


def is_static(text: str) -> bool:
    """True when `text` has no template fields (and is a valid template)."""
    try:
        return not template_fields(text)
    except TemplateError:
        return False


def static_prompts(spec: FlowSpec) -> list[str]:
    """Every prompt of the flow without template fields, once each, in flow order."""
    texts = (t.strip() for t in _all_texts(spec) if t and t.strip())
    return list(dict.fromkeys(t for t in texts if is_static(t)))
