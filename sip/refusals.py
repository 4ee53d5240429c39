"""Counting refused call attempts, and batching them for the journal.

Refusals happen on the SIP thread, possibly thousands a second under a
flood; the journal writes to disk on the event loop. :class:`RefusalTally`
keeps the counts (in memory, for the status line) and gathers what to
journal: each refusal in full up to ``per_source_per_s`` per source in each
interval between :meth:`RefusalTally.take` calls (the node takes once a
second), and past that only a count per source, reason and SIP code. So
the journal writes at most a bounded number of records a second, whatever
the offered load, and none of it touches disk on the SIP thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.core.call import utcnow

MAX_SOURCES = 1000  # distinct sources counted; beyond, counted as OTHER
MAX_AGGREGATES = 50  # aggregated records per take; beyond, folded into OTHER
OTHER = "other"


@dataclass(frozen=True)
class Refusal:
    """One refused INVITE, as journaled."""

    at: datetime
    source: str
    reason: str
    code: int
    from_uri: str = ""
    to_uri: str = ""
    sip_call_id: str = ""


@dataclass(frozen=True)
class RefusalCount:
    """INVITEs refused past the per-source quota of one interval."""

    at: datetime
    source: str
    reason: str
    code: int
    count: int


@dataclass
class RefusalBatch:
    """What to journal for one interval."""

    refusals: list[Refusal] = field(default_factory=list)
    counts: list[RefusalCount] = field(default_factory=list)


Details = Callable[[], tuple[str, str, str]]  # (from, to, Call-ID), read only if journaled


class RefusalTally:
    """Counts refusals by reason and source; batches them for the journal.

    SIP thread only, except the read-only snapshots (:meth:`by_reason`,
    :meth:`by_source`) which copy plain dicts.
    """

    def __init__(self, per_source_per_s: int) -> None:
        self.per_source_per_s = per_source_per_s
        self._reasons: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()
        self._journaled: Counter[str] = Counter()  # this interval, per source
        self._pending: list[Refusal] = []
        self._overflow: Counter[tuple[str, str, int]] = Counter()

    def add(self, source: str, reason: str, code: int, details: Details | None = None) -> None:
        """Count one refusal; keep it for the journal if the source's quota allows."""
        self._reasons[reason] += 1
        key = source if source in self._sources or len(self._sources) < MAX_SOURCES else OTHER
        self._sources[key] += 1
        if self._journaled[key] < self.per_source_per_s:
            self._journaled[key] += 1
            from_uri, to_uri, call_id = details() if details else ("", "", "")
            self._pending.append(Refusal(utcnow(), source, reason, code, from_uri, to_uri,
                                         call_id))
        else:
            self._overflow[(key, reason, code)] += 1

    def take(self) -> RefusalBatch | None:
        """What to journal since the last take (None: nothing); starts a new interval."""
        self._journaled.clear()
        if not self._pending and not self._overflow:
            return None
        now = utcnow()
        batch = RefusalBatch(self._pending)
        overflow = self._overflow.most_common()
        for source, reason, code in [k for k, _ in overflow[MAX_AGGREGATES:]]:
            count = self._overflow.pop((source, reason, code))
            self._overflow[(OTHER, reason, code)] += count
        batch.counts = [RefusalCount(now, source, reason, code, count)
                        for (source, reason, code), count in self._overflow.items()]
        self._pending = []
        self._overflow = Counter()
        return batch

    def by_reason(self) -> dict[str, int]:
        """Refusals since start, by reason."""
        return dict(self._reasons)

    def by_source(self, top: int = 10) -> dict[str, int]:
        """The `top` sources by refusals since start."""
        return dict(self._sources.most_common(top))

    @property
    def total(self) -> int:
        return sum(self._reasons.values())
