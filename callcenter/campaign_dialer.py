"""The campaign dialer of ``callcenter serve``: the scheduler over this node's
campaign calls (`callcenter.campaign_calls`), its clock and the rules' facts."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from callcenter.campaign_calls import SipCampaignCalls
from callcenter.core.events import EventBus
from callcenter.core.settings import Settings
from callcenter.core.store import AsyncStore
from callcenter.dialog_service import DialogService
from compliance.dial_facts import DialFacts
from compliance.dnc_registry import RegistrySnapshotError
from compliance.store_dial_facts import StoreDialFacts
from outbound.scheduler import CampaignScheduler
from sip.node import SipNode

log = logging.getLogger(__name__)

#: How long the rules' facts keep one National DNC snapshot before looking for a newer one.
FACTS_REFRESH_S = 60.0


class CachedDialFacts:
    """The rules' facts from the store, with the National DNC snapshot reloaded
    at most every ``FACTS_REFRESH_S`` (a new import is picked up within that)."""

    def __init__(self, store: AsyncStore, settings: Settings) -> None:
        self._store = store.store
        self._data_dir = settings.node.data_dir
        self._facts: StoreDialFacts | None = None
        self._loaded = 0.0

    def __call__(self) -> DialFacts:
        """Facts for one check (called on a worker thread)."""
        if self._facts is None or time.monotonic() - self._loaded > FACTS_REFRESH_S:
            try:
                self._facts = StoreDialFacts.of(self._store, self._data_dir)
            except RegistrySnapshotError as exc:
                log.error("National DNC snapshot unreadable (%s): telemarketing stops", exc)
                self._facts = StoreDialFacts(self._store, None)
            self._loaded = time.monotonic()
        return self._facts


def dialer_clock(start: datetime | None) -> Callable[[], datetime]:
    """The wall clock (UTC), or one that starts at ``start`` and runs at real speed."""
    if start is None:
        return lambda: datetime.now(UTC)
    began = time.monotonic()
    origin = start.astimezone(UTC)
    log.warning("the campaign dialer's clock starts at %s (outbound.clock_start)", origin)
    return lambda: origin + timedelta(seconds=time.monotonic() - began)


async def start_campaigns(settings: Settings, store: AsyncStore, node: SipNode,
                          dialogs: DialogService | None,
                          greeting: Callable[[int], Awaitable[bytes]], name: str,
                          gone_nodes: Sequence[str],
                          events: EventBus | None = None) -> CampaignScheduler:
    """Settle what dead nodes (and this node's earlier life) left claimed, then
    start dialling the running campaigns; their news goes to ``events``."""
    clock = dialer_clock(settings.outbound.clock_start)
    calls = SipCampaignCalls(node, settings, dialogs, greeting, store, clock)
    calls.warm([c.business_name for c in await store.campaigns.campaigns()])
    scheduler = CampaignScheduler(store.campaigns, calls, CachedDialFacts(store, settings),
                                  node=name, clock=clock, poll_s=settings.outbound.poll_s,
                                  events=events)
    settled = await scheduler.recover(gone_nodes)
    if settled:
        log.warning("%d campaign attempt(s) left by stopped or dead nodes settled", settled)
    scheduler.start()
    return scheduler
