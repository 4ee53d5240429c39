"""The node's door: what decides on new calls, and what it refused.

:class:`CallGate` owns the admission module (:mod:`sip.overload_guard`), the
policy it applies (:mod:`sip.admission`), the count of calls per source
address (from the node's own call table) and the tally of refusals
(:mod:`sip.refusals`). Everything but :meth:`CallGate.journal` runs on the
SIP thread; refusals reach the journal once a second through
``loop.call_soon_threadsafe``, so nothing here touches disk on the SIP
thread.

Journaling: each refused INVITE within the per-source quota
(``sip.refusals_journaled_per_s``) becomes a CDR with outcome ``rejected``,
its SIP code, and a ``refused`` event (reason, source, count 1); the rest of
each second becomes one CDR per source, reason and code whose ``refused``
event carries their count, with ``sip:<source>`` as its From.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.core.call import CallInfo, Direction, EndReason, new_call_id
from callcenter.core.settings import SipSettings
from sip.admission import Admission, AdmissionPolicy, Refused
from sip.call import CallEnd, SipCall
from sip.overload_guard import OverloadGuard, Verdict
from sip.refusals import Refusal, RefusalBatch, RefusalCount, RefusalTally
from sip.rx_data import RxRequest, header_value, strip_tag
from sip.sip_uri import request_uri_user

if TYPE_CHECKING:
    from sip.node import SipNode

log = logging.getLogger("sip.node")

_PHRASES = {
    Refused.STARTING: "Service Unavailable (starting)",
    Refused.DRAINING: "Service Unavailable (draining)",
    Refused.RATE: "Service Unavailable (too many calls from your address)",
    Refused.SOURCE_CALLS: "Service Unavailable (too many calls from your address)",
    Refused.FULL: "Service Unavailable (node full)",
    Refused.RESERVED: "Service Unavailable (node full)",
}


class CallGate:
    """Admission of new INVITEs and OPTIONS for one node, and its refusals."""

    def __init__(self, node: SipNode, settings: SipSettings, accepting: bool) -> None:
        self._node = node
        self._settings = settings
        self.admission: Admission | None = None
        self._guard: OverloadGuard | None = None
        self.accepting = accepting
        self.draining = False
        self.tally = RefusalTally(settings.refusals_journaled_per_s)
        # Called on the event loop with each second's refusals; default: journal them.
        self.on_refusals: Callable[[RefusalBatch], None] | None = self.journal
        self._sources: dict[int, str] = {}  # pjsua call id -> source address
        self._source_calls: Counter[str] = Counter()
        self.options_refused = 0

    # -- SIP thread ------------------------------------------------------------
    def install(self, capacity: int) -> None:
        """Register the admission module for a node of `capacity` calls."""
        self.admission = Admission(AdmissionPolicy.from_settings(self._settings, capacity))
        self.admission.accepting = self.accepting
        self.admission.draining = self.draining
        self._guard = OverloadGuard(self._judge, self._settings.retry_after_s)
        self._guard.register()
        self._node.thread.every(1.0, self._hand_off)

    def open(self) -> None:
        """Take calls (any thread)."""
        self.accepting = True
        if self.admission is not None:
            self.admission.accepting = True

    def drain(self) -> None:
        """Refuse every new INVITE and OPTIONS (any thread)."""
        self.draining = True
        if self.admission is not None:
            self.admission.draining = True

    def call_added(self, call_id: int, source: str) -> None:
        """An inbound call from `source` got pjsua call id `call_id`."""
        self._sources[call_id] = source
        self._source_calls[source] += 1

    def call_removed(self, call_id: int) -> None:
        source = self._sources.pop(call_id, None)
        if source is not None:
            self._source_calls[source] -= 1
            if self._source_calls[source] <= 0:
                del self._source_calls[source]

    def clear(self) -> None:
        self._sources.clear()
        self._source_calls.clear()

    def _judge(self, method: str, request: RxRequest | None) -> Verdict:
        """From the admission module, before pjsua allocates a call slot:
        the answer to a new INVITE or an OPTIONS (None: pass it on)."""
        admission = self.admission
        if admission is None:
            return None
        calls = self._node.call_count()
        if method == "OPTIONS":
            verdict = admission.options(calls)
            if verdict is None:
                return None
            self.options_refused += 1
            return 503, _PHRASES[verdict]
        source = request.source if request is not None else None
        user = request_uri_user(request.request_uri) if request is not None else ""
        verdict = admission.invite(source, user, calls,
                                   self._source_calls[source] if source else 0)
        if verdict is None:
            return None
        code = self._settings.busy_code if verdict is Refused.FULL else 503

        def details() -> tuple[str, str, str]:
            if request is None:
                return "", "", ""
            text = request.message.decode("latin-1")
            return (strip_tag(header_value(text, ("From", "f"))), request.request_uri,
                    header_value(text, ("Call-ID", "i")))

        self.tally.add(source or "unknown", str(verdict), code, details)
        return code, "Busy Here" if code == 486 else _PHRASES[verdict]

    def _hand_off(self) -> None:
        """Once a second: the refusals to journal, to the event loop."""
        batch = self.tally.take()
        if batch is None:
            return
        reasons: Counter[str] = Counter(r.reason for r in batch.refusals)
        for count in batch.counts:
            reasons[count.reason] += count.count
        log.warning("refused %d INVITE(s) in the last second (%s)", sum(reasons.values()),
                    ", ".join(f"{k} {v}" for k, v in reasons.items()))
        if self.on_refusals is not None:
            self._node.loop.call_soon_threadsafe(self.on_refusals, batch)

    # -- event loop --------------------------------------------------------------
    def journal(self, batch: RefusalBatch) -> None:
        """Each refusal (or count of refusals) becomes a rejected CDR with a
        ``refused`` event, through the node's call observer."""
        node = self._node
        items: list[Refusal | RefusalCount] = [*batch.refusals, *batch.counts]
        for item in items:
            if isinstance(item, Refusal):
                info = CallInfo(call_id=new_call_id(), direction=Direction.INBOUND,
                                from_uri=item.from_uri, to_uri=item.to_uri,
                                sip_call_id=item.sip_call_id, started_at=item.at)
                count = 1
            else:
                host = f"[{item.source}]" if ":" in item.source else item.source
                info = CallInfo(call_id=new_call_id(), direction=Direction.INBOUND,
                                from_uri=f"sip:{host}", to_uri="", started_at=item.at)
                count = item.count
            call = SipCall(info, node.thread, node.loop, node.observer)
            node.observer.on_call_event(call, "offered", {"from": info.from_uri,
                                                          "to": info.to_uri})
            node.observer.on_call_event(call, "refused", {
                "reason": item.reason, "source": item.source, "count": count,
                "sip_code": item.code})
            call.hangup_reason = EndReason.REJECTED
            call._on_ended(CallEnd(EndReason.REJECTED, item.code, item.reason))


def address_host(address: str) -> str:
    """The host of ``1.2.3.4:5060`` or ``[::1]:5060`` (pjsua2's srcAddress)."""
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address
