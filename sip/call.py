"""One call leg as asyncio code sees it.

A :class:`SipCall` is created by the SIP layer for every offered or dialled
leg. Its methods are coroutines that marshal to the SIP thread; its news
(state, DTMF, media) arrive from the SIP thread through
``loop.call_soon_threadsafe``. It never holds pjsua2 objects itself: those
live in :class:`sip.pj_call.PjCall`, owned by the SIP thread.
"""

from __future__ import annotations

import asyncio
import logging
import wave
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from callcenter.core.call import CallInfo, CallState, EndReason, can_transition, utcnow
from callcenter.core.errors import CallGone, MediaError
from sip.audio_buffers import FrameInbox, FrameOutbox
from sip.leg_audio import LegAudio, frame_bytes

if TYPE_CHECKING:
    from sip.pj_call import PjCall
    from sip.sip_thread import SipThread

log = logging.getLogger(__name__)


class CallObserver(Protocol):
    """Receives every call's lifecycle news (on the event loop).

    Kinds: ``offered``, ``dialing``, ``answered``, ``media``, ``dtmf``,
    ``hold``, ``unhold``, ``transfer``, ``ended``.
    """

    def on_call_event(self, call: SipCall, kind: str, data: dict[str, Any]) -> None: ...


@dataclass
class CallEnd:
    """How a call ended."""

    reason: EndReason
    sip_code: int | None
    text: str = ""


@dataclass
class MediaInfo:
    """The negotiated audio of a call."""

    codec: str
    clock_rate: int
    remote_rtp: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class SipCall:
    """An inbound or outbound call leg; all methods run on the event loop."""

    def __init__(self, info: CallInfo, thread: SipThread, loop: asyncio.AbstractEventLoop,
                 observer: CallObserver, *, transfer_timeout_s: float | None = None) -> None:
        """`transfer_timeout_s`: how long :meth:`transfer` waits for the
        target's answer (``sip.transfer_timeout_s``; None: as long as the call)."""
        self.info = info
        self.transfer_timeout_s = transfer_timeout_s
        self.state = CallState.RINGING
        self.media: MediaInfo | None = None
        self.leg: LegAudio | None = None
        # A weak reference: the node owns the pjsua2 call, and it must be
        # destroyed on the SIP thread while it still owns its call slot.
        self._pj: weakref.ref[PjCall] | None = None
        self._thread = thread
        self._loop = loop
        self._observer = observer
        self.dtmf: asyncio.Queue[str] = asyncio.Queue(maxsize=256)
        self.answered: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[CallEnd] = loop.create_future()
        self.media_ready: asyncio.Future[None] = loop.create_future()
        self.hangup_reason: EndReason | None = None
        self._transfer: asyncio.Future[int] | None = None
        self._hold_listeners: list[Callable[[bool], None]] = []

    def bind(self, pj_call: PjCall) -> None:
        """Attach the pjsua2 side (SIP thread)."""
        self._pj = weakref.ref(pj_call)

    @property
    def id(self) -> str:
        return self.info.call_id

    def __repr__(self) -> str:
        return f"<SipCall {self.id[:8]} {self.info.direction} {self.state}>"

    # -- news from the SIP thread (scheduled onto the loop) -------------------
    def _set_state(self, new: CallState) -> bool:
        if new == self.state or not can_transition(self.state, new):
            return False
        self.state = new
        return True

    def _on_answered(self) -> None:
        if self._set_state(CallState.ANSWERED):
            if not self.answered.done():
                self.answered.set_result(None)
            self._observer.on_call_event(self, "answered", {"at": utcnow().isoformat()})

    def _on_media(self, media: MediaInfo, leg: LegAudio) -> None:
        self.media = media
        self.leg = leg
        if not self.media_ready.done():
            self.media_ready.set_result(None)
            self._observer.on_call_event(self, "media", {"codec": media.codec,
                                                         "clock_rate": media.clock_rate,
                                                         "remote_rtp": media.remote_rtp})

    def _on_hold(self, held: bool) -> None:
        if self.state not in (CallState.ANSWERED, CallState.ON_HOLD):
            return  # first media of a call being set up: not a hold change
        new = CallState.ON_HOLD if held else CallState.ANSWERED
        if self._set_state(new):
            self._observer.on_call_event(self, "hold" if held else "unhold", {})
            for listener in list(self._hold_listeners):
                listener(held)

    @property
    def on_hold(self) -> bool:
        """True while either side holds the call (its media is not flowing)."""
        return self.state == CallState.ON_HOLD

    def watch_hold(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """Call `listener(held)` on the loop whenever the call goes on or off
        hold; returns what stops it."""
        self._hold_listeners.append(listener)

        def stop() -> None:
            if listener in self._hold_listeners:
                self._hold_listeners.remove(listener)
        return stop

    def _on_dtmf(self, digit: str, method: str) -> None:
        if not self.dtmf.full():
            self.dtmf.put_nowait(digit)
        self._observer.on_call_event(self, "dtmf", {"digit": digit, "method": method})

    def _on_transfer_status(self, code: int, final: bool) -> None:
        if final and self._transfer is not None and not self._transfer.done():
            self._transfer.set_result(code)

    def _on_ended(self, end: CallEnd) -> None:
        self._set_state(CallState.ENDED)
        if self.leg is not None:
            self.leg.inbox.close()
            self.leg.outbox.clear()
        for fut in (self.answered, self.media_ready, self._transfer):
            if fut is not None and not fut.done():
                fut.set_exception(CallGone(f"call ended: {end.reason} ({end.sip_code})"))
                fut.exception()  # mark retrieved: nobody may be waiting
        if not self.ended.done():
            self.ended.set_result(end)
            self._observer.on_call_event(self, "ended", {"reason": str(end.reason),
                                                         "sip_code": end.sip_code,
                                                         "text": end.text})

    # -- call control ---------------------------------------------------------
    async def _on_pj(self, action: Callable[[PjCall], Any]) -> Any:
        def job() -> Any:
            pj_call = self._pj() if self._pj is not None else None
            if pj_call is None or pj_call.disconnected:
                raise CallGone(f"call {self.id} has ended")
            return action(pj_call)

        return await self._thread.run(job)

    async def ring(self) -> None:
        """Send 180 Ringing for an offered call."""
        await self._on_pj(lambda c: c.respond(180))

    async def answer(self) -> None:
        """Answer an offered call with 200 OK and wait until media is up."""
        await self._on_pj(lambda c: c.respond(200))
        await asyncio.wait_for(asyncio.shield(self.media_ready), 10)

    async def reject(self, code: int, reason: str = "") -> None:
        """Refuse an offered call with a final SIP `code` (4xx/5xx/6xx)."""
        self.hangup_reason = EndReason.REJECTED
        await self._on_pj(lambda c: c.respond(code, reason))

    async def hangup(self, reason: EndReason = EndReason.ENGINE_HANGUP) -> None:
        """End the call (BYE, CANCEL or a final response, as the state needs)."""
        if self.ended.done():
            return
        self.hangup_reason = self.hangup_reason or reason
        try:
            await self._on_pj(lambda c: c.end())
        except CallGone:
            return

    async def _confirmed(self, timeout: float = 10.0) -> None:
        """Until the peer has ACKed the answer: a re-INVITE or REFER sent
        before that is refused by pjsip (invalid INVITE session state)."""
        await asyncio.wait_for(asyncio.shield(self.answered), timeout)

    async def hold(self) -> None:
        """Put the remote party on hold (re-INVITE with sendonly)."""
        await self._confirmed()
        await self._on_pj(lambda c: c.hold())

    async def unhold(self) -> None:
        """Resume a held call."""
        await self._confirmed()
        await self._on_pj(lambda c: c.unhold())

    async def transfer(self, target: str, timeout: float | None = None) -> int:
        """Blind transfer with REFER; returns the final NOTIFY status code, or
        raises TimeoutError after `timeout` (default :attr:`transfer_timeout_s`)
        without one.

        On a 2xx the call is hung up here (reason ``transferred``). Raises
        :class:`CallGone` if the call ends before the final NOTIFY. Every
        attempt is reported as one ``transfer`` call event: target, SIP code
        and outcome (``accepted``, ``refused``, ``timeout``, ``call_ended``,
        ``cancelled``, ``error``).
        """
        self._transfer = self._loop.create_future()
        code: int | None = None
        outcome = "error"
        try:
            await self._confirmed()
            await self._on_pj(lambda c: c.refer(target))
            code = await asyncio.wait_for(
                self._transfer, self.transfer_timeout_s if timeout is None else timeout)
            outcome = "accepted" if 200 <= code < 300 else "refused"
        except TimeoutError:
            outcome = "timeout"
            raise
        except CallGone:
            outcome = "call_ended"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self._observer.on_call_event(self, "transfer", {"target": target, "sip_code": code,
                                                            "outcome": outcome})
        if outcome == "accepted":
            await self.hangup(EndReason.TRANSFERRED)
        return code

    async def send_dtmf(self, digits: str) -> None:
        """Send `digits` to the peer as RFC 4733 telephone events."""
        await self._on_pj(lambda c: c.dialDtmf(digits))

    # -- audio ----------------------------------------------------------------
    def _require_leg(self) -> LegAudio:
        if self.leg is None:
            raise MediaError(f"call {self.id} has no audio yet")
        return self.leg

    def frames(self) -> AsyncIterator[bytes]:
        """The caller's audio from now on: 20 ms PCM16 frames at `media.clock_rate`."""
        return self._require_leg().inbox.frames()

    def play(self, pcm: bytes) -> asyncio.Future[bool]:
        """Queue PCM16 mono audio at the call's clock rate; the future tells
        whether it played to the end (True) or was stopped (False)."""
        return self._require_leg().outbox.queue(pcm)

    async def play_wav(self, path: Path) -> asyncio.Future[bool]:
        """Queue a WAV file (mono or stereo PCM16, any rate; resampled)."""
        leg = self._require_leg()
        pcm = await asyncio.to_thread(load_wav_pcm, path, leg.clock_rate)
        return leg.outbox.queue(pcm)

    def stop_audio(self) -> None:
        """Stop what is playing at once and drop what is queued."""
        if self.leg is not None:
            self.leg.outbox.clear()

    async def played_out(self, timeout: float = 0.5) -> None:
        """Until the audio queued so far has been sent, not only handed to the
        bridge (a play's future resolves up to the pump's lead earlier); at
        most `timeout` s."""
        leg = self.leg
        # The clock thread drains the ring in C and tells nobody: look every 5 ms.
        for _ in range(max(1, round(timeout / 0.005))):
            if leg is None or self.ended.done() or not (leg.outbox.busy or leg.tx_queued):
                return
            await asyncio.sleep(0.005)

    @property
    def playing(self) -> bool:
        return self.leg is not None and self.leg.outbox.busy


def new_leg_buffers(loop: asyncio.AbstractEventLoop, clock_rate: int
                    ) -> tuple[FrameInbox, FrameOutbox]:
    """The asyncio-side buffers of a leg at `clock_rate`."""
    return FrameInbox(loop), FrameOutbox(loop, frame_bytes(clock_rate))


def load_wav_pcm(path: Path, rate: int) -> bytes:
    """Read a PCM16 WAV as mono PCM16 at `rate` (blocking; run it in a thread)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise MediaError(f"{path}: only 16-bit PCM WAV is supported")
            channels, src_rate = wav.getnchannels(), wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    except (OSError, wave.Error, EOFError) as exc:
        raise MediaError(f"cannot read WAV {path}: {exc}") from None
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype("<i2")
    if src_rate != rate:
        import soxr

        samples = soxr.resample(samples, src_rate, rate, quality="HQ").astype("<i2")
    return samples.tobytes()


def save_wav_pcm(path: Path, pcm: bytes, rate: int) -> Path:
    """Write mono PCM16 at `rate` as a WAV at `path`, whole or not at all (through a
    ``.part`` file; its folder is made). Blocking: run it in a thread. Returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    partial.replace(path)
    return path
