"""The conference-bridge operations of a SIP node: who hears whom.

Every call's audio is a leg of pjmedia's conference bridge
(:class:`sip.leg_audio.LegAudio`); these operations connect and disconnect
legs on the SIP thread, for the human queue (bridge an agent and a caller,
hold audio) and for supervisors (listen, whisper, barge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from callcenter.core.errors import CallFailed
from sip.call import SipCall
from sip.loop_players import LoopPlayers
from sip.pj_call import PjCall
from sip.sip_thread import SipThread


@dataclass(frozen=True)
class LegRoute:
    """How one leg and another hear each other (for :meth:`ConferenceOps.set_routes`).

    ``hears``: the leg hears the other's voice; ``hears_engine``: it also hears
    what the engine sends the other (bot, tones); ``heard``: the other hears it.
    """

    hears: bool = False
    hears_engine: bool = False
    heard: bool = False


class ConferenceOps:
    """Bridge operations of :class:`sip.node.SipNode`, on its SIP thread."""

    thread: SipThread
    loop_players: LoopPlayers
    _calls: dict[int, PjCall]  # pjsua call id → call, SIP thread only

    async def connect(self, listener: SipCall, speaker: SipCall, on: bool = True) -> None:
        """Let `listener` hear `speaker` (or stop, with ``on=False``)."""
        def job() -> None:
            a, b = listener.leg, speaker.leg
            if a is None or b is None:
                raise CallFailed("both legs need active audio to be connected")
            (a.hear if on else a.stop_hearing)(b)

        await self.thread.run(job)

    async def bridge(self, a: SipCall, b: SipCall) -> None:
        """Two-way audio between legs `a` and `b`."""
        await self.connect(a, b)
        await self.connect(b, a)

    async def unbridge(self, a: SipCall, b: SipCall) -> None:
        await self.connect(a, b, on=False)
        await self.connect(b, a, on=False)

    async def set_routes(self, leg: SipCall, routes: Sequence[tuple[SipCall, LegRoute]]
                         ) -> None:
        """Set, in one step on the SIP thread, exactly how `leg` and each other
        leg of `routes` hear each other (see :class:`LegRoute`). Routes between
        `leg` and legs not named are left as they are; legs without audio
        (ended) are skipped. Raises :class:`CallFailed` if `leg` has no audio."""
        def job() -> None:
            me = leg.leg
            if me is None:
                raise CallFailed(f"call {leg.id[:8]} has no active audio")
            for other_call, route in routes:
                other = other_call.leg
                if other is None or other is me:
                    continue
                (me.hear if route.hears else me.stop_hearing)(other)
                (me.hear_engine if route.hears_engine else me.stop_hearing_engine)(other)
                (other.hear if route.heard else other.stop_hearing)(me)

        await self.thread.run(job)

    async def talking_with(self, call: SipCall) -> list[SipCall]:
        """The legs bridged both ways with `call` now (each hears the other)."""
        def job() -> list[SipCall]:
            me = call.leg
            if me is None:
                return []
            return [c.sip_call for c in self._calls.values()
                    if c.leg is not None and c.leg is not me and c.leg in me.hearing
                    and me in c.leg.hearing]

        return list(await self.thread.run(job))

    async def listen_in(self, monitor: SipCall, legs: list[SipCall]) -> None:
        """`monitor` hears every leg; nobody hears `monitor`."""
        await self.set_routes(monitor, [(leg, LegRoute(hears=True)) for leg in legs])

    async def whisper(self, monitor: SipCall, legs: list[SipCall], to: SipCall) -> None:
        """`monitor` hears every leg and is heard by `to` only."""
        await self.set_routes(monitor, [(leg, LegRoute(hears=True, heard=leg is to))
                                        for leg in legs])

    async def barge(self, monitor: SipCall, legs: list[SipCall]) -> None:
        """`monitor` hears every leg and every leg hears `monitor`."""
        await self.set_routes(monitor, [(leg, LegRoute(hears=True, heard=True))
                                        for leg in legs])

    async def play_loop(self, call: SipCall, wav: Path) -> None:
        """Let `call` hear `wav` in a loop, mixed by the bridge (no per-frame
        Python): hold audio. `wav` must come from :func:`prepare_loop_wav`."""
        def job() -> None:
            if call.leg is None:
                raise CallFailed("the call has no active audio")
            call.leg.hear_slot(self.loop_players.slot_for(wav))

        await self.thread.run(job)

    async def stop_loops(self, call: SipCall) -> None:
        """Stop every looping WAV `call` hears."""
        def job() -> None:
            if call.leg is not None:
                for slot in call.leg.heard_slots:
                    call.leg.stop_hearing_slot(slot)

        await self.thread.run(job)
