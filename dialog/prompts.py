"""The fixed things a flow says, so they can be rendered before the first call.

    static_prompts(flow.spec)  -> ["Thank you for calling Riverside Clinic. ...", ...]

A prompt is static when its template has no fields: it sounds the same on
every call, so a synthesizer with a prompt cache can render it once, at
start, and no caller waits for it. Reprompts are returned on their own; the
runner joins them with the state's prompt, which the sentence-level cache
serves from the two parts.
"""

from __future__ import annotations

from dialog.flow import FlowSpec
from dialog.flow_checks import flow_texts
from dialog.templates import TemplateError, template_fields


def is_static(text: str) -> bool:
    """True when `text` has no template fields (and is a valid template)."""
    try:
        return not template_fields(text)
    except TemplateError:
        return False


def static_prompts(spec: FlowSpec) -> list[str]:
    """Every prompt of the flow without template fields, once each, in flow order."""
    texts = (text.strip() for path, text in flow_texts(spec)
             if path[-2:-1] != ("set",) and text.strip())
    return list(dict.fromkeys(t for t in texts if is_static(t)))
