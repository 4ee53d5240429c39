"""Which new calls a node takes: capacity, reserved slots, per-source limits, drain.

Pure logic, no pjsua2: the node's PJSIP module (:mod:`sip.overload_guard`)
asks :class:`Admission` about every initial INVITE before pjsua allocates a
call slot, and about every out-of-dialog OPTIONS, so a refusal costs the
node nothing but the 503 it sends. The checks, in order:

1. the node is starting or draining: every INVITE and OPTIONS gets 503;
2. per source address (unless the source is trusted, e.g. the SIP edge
   every call arrives through): a token bucket of ``max_invites_per_s``
   with ``burst``, then ``max_calls`` concurrent calls;
3. every slot taken: ``sip.busy_code``;
4. only reserved slots left: 503, unless the Request-URI's user is one of
   ``sip.reserved_numbers`` (an agent's login number, say). Calls the
   engine dials itself (agent and supervisor legs) may use reserved slots.

OPTIONS gets 503 while starting, draining, or when no slot is left for an
ordinary caller, so a SIP edge stops sending calls; otherwise pjsua answers
it (200 with Allow, Accept, Supported).
"""

from __future__ import annotations

import enum
import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callcenter.core.settings import SipSettings

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_TRACKED_SOURCES = 4096  # token buckets kept; idle (full) ones are dropped first


class Refused(enum.StrEnum):
    """Why a new call (or an OPTIONS) was refused."""

    STARTING = "starting"  # the node is not ready yet
    DRAINING = "draining"  # the node is draining before it stops
    RATE = "rate"  # the source sent INVITEs faster than its rate limit
    SOURCE_CALLS = "source_calls"  # the source holds its share of calls
    FULL = "full"  # every call slot is taken
    RESERVED = "reserved"  # only slots reserved for agents/supervisors are left


@dataclass(frozen=True)
class AdmissionPolicy:
    """The node's limits, resolved against its real capacity."""

    capacity: int
    reserved: int
    rate: float  # INVITEs per second per source; 0 = unlimited
    burst: int
    per_source_calls: int  # 0 = unlimited
    trusted: tuple[IpNetwork, ...] = ()
    reserved_numbers: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: SipSettings, capacity: int) -> AdmissionPolicy:
        """Resolve ``sip.reserved_slots`` (at most capacity - 1) and
        ``sip.per_source.max_calls`` (null: half the caller slots, at least 1)."""
        reserved = max(0, min(settings.reserved_slots, capacity - 1))
        per_source = settings.per_source
        calls = per_source.max_calls
        if calls is None:
            calls = max(1, math.ceil((capacity - reserved) / 2))
        return cls(capacity=capacity, reserved=reserved, rate=per_source.max_invites_per_s,
                   burst=per_source.burst, per_source_calls=calls,
                   trusted=parse_networks(settings.trusted_sources),
                   reserved_numbers=frozenset(settings.reserved_numbers))

    @property
    def caller_slots(self) -> int:
        """Slots an ordinary caller may take."""
        return self.capacity - self.reserved


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.1.0.0/16``, ``::1``)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Admission:
    """Decides on new INVITEs and OPTIONS. Not thread-safe: the SIP thread
    calls it; other threads only flip :attr:`accepting` and :attr:`draining`."""

    def __init__(self, policy: AdmissionPolicy,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.accepting = True
        self.draining = False
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._trusted: dict[str, bool] = {}

    def invite(self, source: str | None, user: str, calls: int,
               source_calls: int) -> Refused | None:
        """Verdict on an initial INVITE from `source` (None: unknown) to
        `user`, with `calls` calls on the node and `source_calls` of them
        from that source. None admits it."""
        if not self.accepting:
            return Refused.STARTING
        if self.draining:
            return Refused.DRAINING
        policy = self.policy
        if source is not None and not self.is_trusted(source):
            if policy.rate > 0 and not self._take_token(source):
                return Refused.RATE
            if 0 < policy.per_source_calls <= source_calls:
                return Refused.SOURCE_CALLS
        if calls >= policy.capacity:
            return Refused.FULL
        if calls >= policy.caller_slots and user not in policy.reserved_numbers:
            return Refused.RESERVED
        return None

    def options(self, calls: int) -> Refused | None:
        """Verdict on an OPTIONS ping: refused unless an ordinary caller
        could be taken now."""
        if not self.accepting:
            return Refused.STARTING
        if self.draining:
            return Refused.DRAINING
        if calls >= self.policy.caller_slots:
            return Refused.FULL if calls >= self.policy.capacity else Refused.RESERVED
        return None

    def is_trusted(self, source: str) -> bool:
        """True for sources exempt from per-source limits (``sip.trusted_sources``)."""
        known = self._trusted.get(source)
        if known is None:
            try:
                address = ipaddress.ip_address(source)
                known = any(address in net for net in self.policy.trusted)
            except ValueError:
                known = False
            if len(self._trusted) >= MAX_TRACKED_SOURCES:
                self._trusted.clear()
            self._trusted[source] = known
        return known

    def _take_token(self, source: str) -> bool:
        now = self._clock()
        policy = self.policy
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_SOURCES:
                self._forget_idle(now)
            bucket = self._buckets[source] = _Bucket(float(policy.burst), now)
        else:
            bucket.tokens = min(float(policy.burst),
                                bucket.tokens + (now - bucket.stamp) * policy.rate)
            bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled (they hold no state); if that is
        not enough, the oldest half (a spoofed flood from many addresses)."""
        policy = self.policy
        for source, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * policy.rate >= policy.burst:
                del self._buckets[source]
        if len(self._buckets) >= MAX_TRACKED_SOURCES:
            for source in list(self._buckets)[: MAX_TRACKED_SOURCES // 2]:
                del self._buckets[source]
