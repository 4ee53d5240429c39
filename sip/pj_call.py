"""The pjsua2 side of a call: a `pj.Call` subclass living on the SIP thread.

It turns pjsua2 callbacks into news for its :class:`sip.call.SipCall`
(scheduled on the event loop) and carries out the SipCall's requests. All of
it runs on the SIP thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from callcenter.core.call import Direction, EndReason, outcome_for_code
from sip.call import CallEnd, MediaInfo, SipCall, new_leg_buffers
from sip.leg_audio import LegAudio

if TYPE_CHECKING:
    from sip.node import SipNode

log = logging.getLogger(__name__)

_DTMF_METHODS = {
    getattr(pj, "PJSUA_DTMF_METHOD_RFC2833", 0): "rfc4733",
    getattr(pj, "PJSUA_DTMF_METHOD_SIP_INFO", 1): "sip_info",
}


class PjCall(pj.Call):  # type: ignore[misc]
    """Bridges pjsua2 callbacks of one call to its :class:`SipCall`."""

    def __init__(self, node: SipNode, account: Any, sip_call: SipCall,
                 call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.node = node
        self.sip_call = sip_call
        self.leg: LegAudio | None = None
        self.rx_packets = 0
        self.rtp_seen = False
        self.last_rx = time.monotonic()
        self.disconnected = False
        self.held = False
        self._loop: asyncio.AbstractEventLoop = node.loop

    def _tell(self, method: Any, *args: Any) -> None:
        self._loop.call_soon_threadsafe(method, *args)

    # -- requests (SIP thread) ------------------------------------------------
    def respond(self, code: int, reason: str = "") -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        if reason:
            prm.reason = reason
        if code == 503:
            header = pj.SipHeader()
            header.hName, header.hValue = "Retry-After", "5"
            prm.txOption.headers.append(header)
        if code >= 300:
            self.sip_call.hangup_reason = self.sip_call.hangup_reason or EndReason.REJECTED
            self.hangup(prm)
        else:
            self.answer(prm)

    def end(self) -> None:
        if self.disconnected:
            return
        prm = pj.CallOpParam()
        try:
            unanswered = self.getInfo().state < pj.PJSIP_INV_STATE_CONFIRMED
        except pj.Error:
            return  # pjsua has already let go of this call
        if unanswered and self.sip_call.info.direction == Direction.INBOUND:
            prm.statusCode = 480  # an outbound one is CANCELled by pjsua itself
        self.hangup(prm)

    def hold(self) -> None:
        self.setHold(pj.CallOpParam(True))

    def unhold(self) -> None:
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        self.reinvite(prm)

    def refer(self, target: str) -> None:
        self.xfer(target, pj.CallOpParam(True))

    # -- pjsua2 callbacks (SIP thread) ----------------------------------------
    def onCallState(self, prm: Any) -> None:  # noqa: N802 (pjsua2 name)
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._tell(self.sip_call._on_answered)
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
            self.disconnected = True
            end = self._end_of(ci)
            self.node._call_disconnected(self)
            self._tell(self.sip_call._on_ended, end)

    def _end_of(self, ci: Any) -> CallEnd:
        code = int(ci.lastStatusCode)
        chosen = self.sip_call.hangup_reason
        if chosen is not None:
            reason = chosen
        elif ci.connectDuration.sec or ci.connectDuration.msec or self.leg is not None:
            reason = EndReason.CALLER_HANGUP
        elif self.sip_call.info.direction == Direction.OUTBOUND:
            reason = outcome_for_code(code)
        else:
            reason = EndReason.CALLER_HANGUP  # caller gave up before the answer
        return CallEnd(reason=reason, sip_code=code or None, text=str(ci.lastReason))

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        ci = self.getInfo()
        for index, media in enumerate(ci.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self._attach(index)
                self.held = False
                self._tell(self.sip_call._on_hold, False)
            elif media.status in (pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                                  pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                self.held = True
                self._tell(self.sip_call._on_hold, True)

    def _attach(self, index: int) -> None:
        stream = self.getAudioMedia(index)
        info = self.getStreamInfo(index)
        rate = int(info.codecClockRate) or self.node.clock_rate
        if self.leg is None:
            inbox, outbox = new_leg_buffers(self._loop, rate)
            self.leg = LegAudio(self.node.port_pool, rate, inbox, outbox)
            self.leg.recording = self.node.recording_for(self.sip_call, rate)
        self.leg.attach(int(stream.getPortId()), self.node.legs())
        self.last_rx = time.monotonic()
        media = MediaInfo(codec=str(info.codecName).upper(), clock_rate=rate,
                          remote_rtp=str(info.remoteRtpAddress))
        self._tell(self.sip_call._on_media, media, self.leg)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        method = _DTMF_METHODS.get(getattr(prm, "method", 0), "rfc4733")
        self._tell(self.sip_call._on_dtmf, str(prm.digit), method)

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
        self._tell(self.sip_call._on_transfer_status, int(prm.statusCode), bool(prm.finalNotify))

    def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
        # A peer may not make the engine dial elsewhere: transfers are ours to start.
        prm.statusCode = 603

    # -- media watch (SIP thread, from the node's periodic check) -------------
    def media_silent_for(self, now: float) -> float:
        """Seconds since the last RTP packet arrived from the peer (or, before
        the first, since the media started: see :attr:`rtp_seen`); 0 while
        there is no media or the call is on hold."""
        if self.leg is None or self.disconnected or self.held:
            self.last_rx = now
            return 0.0
        try:
            packets = int(self.getStreamStat(0).rtcp.rxStat.pkt)
        except pj.Error:
            return 0.0
        if packets != self.rx_packets:
            self.rx_packets = packets
            self.last_rx = now
            # A new stream (re-INVITE) restarts the count: only a rise is news.
            self.rtp_seen = self.rtp_seen or packets > 0
        return now - self.last_rx

    def no_rtp_for(self, now: float) -> float:
        """Seconds the call's media has been up without one RTP packet from
        the peer; 0 once any arrived. Read after :meth:`media_silent_for`."""
        if self.rtp_seen or self.leg is None or self.held:
            return 0.0
        return now - self.last_rx
