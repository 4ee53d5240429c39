"""A campaign call's opt-out, heard at any point of the call.

`OptOutWatch.heard` is given every key and every recognized utterance of a
live campaign call (``CallConversation``'s ``on_heard``), whatever the flow
is doing; key ``OPT_OUT_KEY`` or words that ask for it
(`dialog.opt_out.asks_opt_out`, evidence only) resolve `OptOutWatch.requested`
with the do-not-call source (``opt_out_dtmf``, ``opt_out_voice``) and what
was heard. The campaign call then ends the flow, puts the number on the
internal list and only then says goodbye and hangs up
(`callcenter.campaign_calls`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dialog.opt_out import OPT_OUT_KEY, asks_opt_out
from dialog.ports import CallerInput, InputKind

__all__ = ["OPT_OUT_KEY", "OptOut", "OptOutWatch"]


@dataclass(frozen=True)
class OptOut:
    """An opt-out: how (the DNC source) and what was heard (the key or the words)."""

    source: str  # opt_out_dtmf | opt_out_voice
    heard: str


class OptOutWatch:
    """Listens for an opt-out on one call (create it on the event loop)."""

    def __init__(self) -> None:
        self.requested: asyncio.Future[OptOut] = asyncio.get_running_loop().create_future()

    def heard(self, given: CallerInput) -> None:
        """One key or utterance of the call (see the module)."""
        if self.requested.done():
            return
        if given.kind is InputKind.DTMF and OPT_OUT_KEY in given.digits:
            self.requested.set_result(OptOut("opt_out_dtmf", given.digits))
        elif given.kind is InputKind.SPEECH and asks_opt_out(given.text):
            self.requested.set_result(OptOut("opt_out_voice", given.text))
