"""Campaign news on the node's event bus: every finished attempt, and a
campaign's state changes, for the business's systems to follow.

Topics (below the bus prefix, MQTT-style):

- ``campaigns/<campaign>/attempt``: one attempt ended (dialled or not).
  Payload: ``campaign``, ``number``, ``contact_id``, ``attempt_no``,
  ``outcome`` (an attempt outcome of the store: answered, busy, no_answer,
  machine, opted_out, failed, unknown, blocked, expired), ``reason`` (the
  rules' refusal, or what a machine or an opt-out was), ``sip_code``,
  ``decision`` (the dialing rules' reason, ``ok`` when dialled) and
  ``rule_id``, ``result``/``result_detail`` (what a live person's flow
  reached, or the attempt's own detail), ``greeted_at``/``abandoned`` on a
  live answer, ``dialed_at``/``ended_at`` (ISO, the dialer's clock),
  ``next_attempt_at`` (the retry, or null) and ``final`` (true when the
  contact is done, with ``contact_result``). The envelope's ``call_id`` is
  the CDR's when a call was set up.
- ``campaigns/<campaign>/state``: ``{"state": running|paused, "change":
  started|resumed|paused|finished, "reason": ..., "detail": ...}``. The
  reason is ``abandonment_rate`` from the node that paused a campaign for its
  abandonment rate (with ``abandonment``: the counts), null for a change
  made by a command (or seen from another node's pause).
  ``finished`` (state stays ``running``: contacts imported later are still
  dialled) is sent when the campaign's last open attempt ended, or when its
  active dates ran out (``reason`` ``active_dates_ended``, ``expired`` the
  attempts left undone).

The envelope's ``node`` says which node saw it. A state change made with
``callcenter campaign start|pause`` is seen (and sent) by every running node
at its next pass, so with several nodes it comes once per node; the ``at``
of the change (``changed_at``) is the same in each. Publishing never waits
and never raises (the bus buffers or drops).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core.events import Event, EventBus
from callcenter.core.store import AttemptRecord

log = logging.getLogger(__name__)


def campaign_subject(campaign: str) -> str:
    """The topic levels of a campaign's events (``campaigns/<name>``)."""
    return f"campaigns/{campaign}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class CampaignNews:
    """Publishes one node's campaign news; a None bus publishes nothing."""

    def __init__(self, bus: EventBus | None, node: str) -> None:
        self.bus = bus
        self.node = node

    async def attempt(self, attempt: AttemptRecord, outcome: str, ended_at: datetime, *,
                      reason: str | None = None, sip_code: int | None = None,
                      decision: Mapping[str, Any] | None = None,
                      dialed_at: datetime | None = None, next_attempt_at: datetime | None = None,
                      result: str | None = None, result_detail: str | None = None,
                      greeted_at: datetime | None = None, abandoned: bool | None = None,
                      call_id: str | None = None) -> None:
        """One attempt ended with ``outcome`` (as the store now has it)."""
        trail = decision if decision is not None else attempt.decision or {}
        final = next_attempt_at is None
        data: dict[str, Any] = {
            "campaign": attempt.campaign, "number": attempt.number,
            "contact_id": attempt.contact_id, "attempt_no": attempt.attempt_no,
            "outcome": outcome, "reason": reason, "sip_code": sip_code,
            "decision": trail.get("reason"), "rule_id": trail.get("rule_id"),
            "result": result, "result_detail": result_detail,
            "greeted_at": _iso(greeted_at), "abandoned": abandoned,
            "dialed_at": _iso(dialed_at or attempt.dialed_at), "ended_at": _iso(ended_at),
            "next_attempt_at": _iso(next_attempt_at), "final": final}
        if final:
            data["contact_result"] = result or outcome
        await self._publish(Event(kind="attempt", data=data, call_id=call_id or attempt.call_id,
                                  node=self.node, subject=campaign_subject(attempt.campaign)))

    async def state(self, campaign: str, state: str, change: str, *, reason: str | None = None,
                    detail: str | None = None, changed_at: datetime | None = None,
                    **extra: Any) -> None:
        """Campaign ``campaign`` is now ``state`` (``change`` says how it got there)."""
        data: dict[str, Any] = {"campaign": campaign, "state": state, "change": change,
                                "reason": reason, "detail": detail,
                                "changed_at": _iso(changed_at), **extra}
        await self._publish(Event(kind="state", data=data, node=self.node,
                                  subject=campaign_subject(campaign)))

    async def _publish(self, event: Event) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(event)
        except Exception:  # the protocol says it never raises; news must not end an attempt
            log.exception("campaign event %s not published", event.topic)
