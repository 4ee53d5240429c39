"""The campaign's message on an answering machine: rendered while the
machine's greeting plays, played after its beep (a healthcare message cut at
``MAX_HEALTHCARE_S``), then the engine hangs up."""

from __future__ import annotations

import asyncio
import logging

from callcenter.answer_screen import AnswerScreen
from callcenter.core.call import EndReason
from callcenter.core.call_control import OutboundCall
from callcenter.core.speech import Synthesizer
from compliance.dial_case import MessageKind
from outbound.voicemail_message import MAX_HEALTHCARE_S, text_for_call
from sip.call import SipCall

log = logging.getLogger(__name__)


async def leave_machine_message(sip_call: SipCall, call: OutboundCall, screen: AnswerScreen,
                                synthesizer: Synthesizer) -> tuple[str, str]:
    """Render the message while the greeting plays (sentence by sentence),
    play it after the beep, hang up. Returns the attempt's reason and a detail."""
    assert sip_call.media is not None
    rate = sip_call.media.clock_rate
    sentences: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def render() -> None:
        try:
            async for pcm in synthesizer.stream(text_for_call(call.contact), rate):
                sentences.put_nowait(pcm)
        finally:
            sentences.put_nowait(None)

    rendering = asyncio.ensure_future(render())
    try:
        cue = await screen.message_cue()
        if cue is None or sip_call.ended.done():
            return "machine_hung_up", "hung up before the message"
        played, seconds = await _play_message(sip_call, call, sentences)
    finally:
        rendering.cancel()
    if not seconds:
        failure = None if rendering.cancelled() else rendering.exception()
        log.error("campaign call %s: no machine message to play (%s)", sip_call.id, failure)
        await sip_call.hangup(EndReason.ENGINE_HANGUP)
        return "machine_no_message", f"the message could not be rendered: {failure}"
    after = f"message after the {cue.reason.replace('_', ' ')} at {cue.at_s:.1f} s"
    if not played or sip_call.ended.done():
        return "machine_hung_up", f"hung up during the {after}"
    await sip_call.hangup(EndReason.ENGINE_HANGUP)
    return "machine_message_left", f"{after} ({seconds:.1f} s)"

async def _play_message(sip_call: SipCall, call: OutboundCall,
                        sentences: asyncio.Queue[bytes | None]) -> tuple[bool, float]:
    """Play the sentences as they come (a healthcare message cut at
    ``MAX_HEALTHCARE_S``); whether it played to the end, and its length."""
    assert sip_call.media is not None
    rate = sip_call.media.clock_rate
    left = (int(MAX_HEALTHCARE_S * rate) * 2
            if call.contact.get("message_kind") == MessageKind.HEALTHCARE_REMINDER
            else None)
    played: asyncio.Future[bool] | None = None
    total = 0
    while (pcm := await sentences.get()) is not None:
        if played is None:
            log.info("campaign call %s: the machine message starts", sip_call.id)
        if left is not None and total + len(pcm) > left:
            log.error("campaign call %s: the machine message is cut at %.0f s",
                      sip_call.id, MAX_HEALTHCARE_S)
            pcm = pcm[:left - total]
        total += len(pcm)
        played = sip_call.play(pcm)
        if left is not None and total >= left:
            break
    ok = played is not None and await played
    await sip_call.played_out(timeout=1.0)
    return ok, total / 2 / rate
