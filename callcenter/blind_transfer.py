"""A blind transfer as the caller hears it: ringback until the outcome.

    code = await blind_transfer(call, "sip:desk@pbx.example.com:5060")

A REFER's outcome (the final NOTIFY) may take as long as the target rings;
the caller hears :func:`callcenter.acd_sounds.ringback` meanwhile, never
silence. The flow's fallback to a queue's URI and a queue's ``at_limit``
transfer both go through here.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from callcenter.acd_sounds import ringback


class _Call(Protocol):
    """What a blind transfer uses of :class:`sip.call.SipCall`."""

    def play(self, pcm: bytes) -> asyncio.Future[bool]: ...

    def stop_audio(self) -> None: ...

    async def transfer(self, target: str) -> int: ...


async def blind_transfer(call: _Call, uri: str, rate: int) -> int:
    """REFER `call` to `uri` with ringback at `rate` until the final NOTIFY;
    returns its SIP code. Raises as :meth:`sip.call.SipCall.transfer` does
    (``CallGone``, ``TimeoutError``); the ringback stops either way."""
    ringing = asyncio.get_running_loop().create_task(_ring(call, ringback(rate)),
                                                     name="ringback")
    try:
        return await call.transfer(uri)
    finally:
        ringing.cancel()
        call.stop_audio()


async def _ring(call: _Call, ring: bytes) -> None:
    while await call.play(ring):
        pass
