"""The built-in test caller behind ``callcenter dial``.

A second pjsua2 endpoint (in its own process) that dials a URI, plays a WAV
into the call, sends DTMF digits and records what it hears, so a newcomer can
try the engine without a softphone, and tests can assert on real audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.caller_script import Step
from callcenter.core.call import EndReason
from callcenter.core.errors import CallFailed
from callcenter.core.settings import Settings
from callcenter.scripted_caller import run_script, transcribe_heard
from sip.call import SipCall
from sip.node import SipNode
from sip.sip_uri import host_of


class _Quiet:
    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None:
        pass


@dataclass
class DialOutcome:
    """What happened on a test call."""

    status: str  # answered | busy | no_answer | failed
    sip_code: int | None
    codec: str | None = None
    clock_rate: int | None = None
    heard_seconds: float = 0.0
    ended_by: str | None = None  # "caller" (us) or "remote"
    recording: str | None = None
    error: str | None = None
    # With a script: the conversation both ways, in order of time (seconds
    # from the answer); the engine's side is transcribed from what was heard.
    conversation: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bind_address_for(uri: str) -> str:
    """Loopback targets are called from 127.0.0.1 (RTP must come back there)."""
    host = host_of(uri)
    with contextlib.suppress(ValueError):
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return "127.0.0.1"
    return "0.0.0.0"


async def dial(settings: Settings, uri: str, *, wav: Path | None = None,
               dtmf: str = "", record: Path | None = None, duration: float | None = None,
               dtmf_delay: float = 0.5, script: list[Step] | None = None,
               transcribe: bool = True) -> DialOutcome:
    """Call `uri`, play, send digits, record; hang up after `duration` seconds.

    With a `script`, its steps run instead of `wav`/`dtmf`, and the outcome
    carries the conversation both ways (the engine's side only if `transcribe`:
    Whisper on what was heard, seconds of work after the call)."""
    node = SipNode(settings.sip, _Quiet())
    await node.start()
    try:
        try:
            call = await node.dial(uri)
        except CallFailed as exc:
            status = "busy" if exc.sip_code in (486, 600) else (
                "no_answer" if exc.sip_code in (408, 480, 487) else "failed")
            return DialOutcome(status=status, sip_code=exc.sip_code, error=str(exc))
        assert call.media is not None
        rate = call.media.clock_rate
        heard = bytearray()

        async def listen() -> None:
            async for frame in call.frames():
                heard.extend(frame)

        listener = asyncio.create_task(listen())
        said: list[dict[str, Any]] = []
        if script is not None:
            said = await run_script(call, script, heard, settings)
            ended_by = "remote" if call.ended.done() else "caller"
        else:
            ended_by = await _play_and_wait(call, wav, dtmf, dtmf_delay, duration)
        if not call.ended.done():
            await call.hangup(EndReason.CALLER_HANGUP)
        end = await node.wait_ended(call)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        _write_heard(record, heard, rate)
        conversation = said
        if script is not None and transcribe:
            conversation += await transcribe_heard(bytes(heard), rate, settings)
        return DialOutcome(status="answered", sip_code=end.sip_code, codec=call.media.codec,
                           clock_rate=rate, heard_seconds=len(heard) / 2 / rate,
                           ended_by=ended_by, recording=str(record) if record else None,
                           conversation=sorted(conversation, key=lambda t: float(t["at"])))
    finally:
        await node.stop()


async def _play_and_wait(call: SipCall, wav: Path | None, dtmf: str, dtmf_delay: float,
                         duration: float | None) -> str:
    """Play `wav`, send `dtmf`, stay `duration` s; who ended the call."""
    answered_at = asyncio.get_running_loop().time()
    played = 0.0
    if wav is not None:
        await call.play_wav(wav)
        with wave.open(str(wav), "rb") as w:
            played = w.getnframes() / w.getframerate()
    if dtmf:
        await asyncio.sleep(dtmf_delay)
        for digit in dtmf:
            await call.send_dtmf(digit)
            await asyncio.sleep(0.25)
    wait = duration if duration is not None else max(played + 0.5, 3.0)
    remaining = answered_at + wait - asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(asyncio.shield(call.ended), max(remaining, 0.0))
    except TimeoutError:
        return "caller"
    return "remote"


def _write_heard(record: Path | None, heard: bytearray, rate: int) -> None:
    if record is None:
        return
    record.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(record), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(heard))
