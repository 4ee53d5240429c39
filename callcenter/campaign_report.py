"""What ``callcenter campaign status`` and ``export`` tell the business.

- `abandonment`: the campaign's abandonment rate over the last 30 days
  (`outbound.abandonment`), and `paused_reason`: why the dialer paused it
  (the campaign's ``state_reason``; the attempt that tipped the rate keeps
  the figures in its trail, ``paused_campaign``);
- `next_window`: when the campaign may next dial someone, asking the dialing
  rules (with the stores' facts) for its pending attempts, one per area code
  and address state;
- `contact_rows` / `attempt_rows`: the CSV export, per contact (its result
  and its last attempt) or per attempt (with its decision trail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.core.store import AttemptRecord, CampaignRecord, ContactRecord, Store
from compliance.dial_facts import DialFacts, complete_case
from compliance.dialing_rules import decide
from outbound.abandonment import WINDOW, Abandonment
from outbound.campaign_spec import Campaign
from outbound.next_allowed import TIME_BOUND, next_allowed

#: At most this many area code and address groups are asked for the next window.
WINDOW_GROUPS = 200


def abandonment(store: Store, campaign: str, now: datetime) -> Abandonment:
    """The campaign's abandoned calls and live answers in the window ending ``now``."""
    abandoned, live = store.campaigns.abandonment(campaign, now - WINDOW)
    return Abandonment(abandoned, live)


def paused_reason(record: CampaignRecord) -> str | None:
    """Why the dialer paused the campaign, if it is paused and the dialer did
    it (None: paused by a command, or not paused)."""
    return record.state_reason if record.state == "paused" else None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def next_window(record: CampaignRecord, attempts: Sequence[AttemptRecord],
                contacts: Sequence[ContactRecord], facts: DialFacts,
                now: datetime) -> dict[str, Any] | None:
    """When the campaign may next dial one of its pending attempts: ``at``
    (ISO), the ``number`` that may go then, ``now`` (whether that is at
    once) and, if not at once, what holds that number until then
    (``why_not_now``: the rules' refusal, or its attempt not due yet). None
    when nothing pending may ever be dialled (all blocked, or nothing
    pending, or no allowed moment within 9 days or the active dates)."""
    campaign = Campaign.from_record(record)
    address = {c.id: c.address_state for c in contacts}
    pending = sorted((a for a in attempts if a.outcome is None and a.claimed_at is None),
                     key=lambda a: a.next_due)
    groups: dict[tuple[str, str | None], AttemptRecord] = {}
    for attempt in pending:
        groups.setdefault((attempt.number[:5], address.get(attempt.contact_id)), attempt)
    best: tuple[datetime, str, str | None] | None = None
    for attempt in list(groups.values())[:WINDOW_GROUPS]:
        at = max(now, _aware(attempt.next_due), campaign.starts_at())
        why = None if at <= now else f"not due before {at.isoformat()}"
        case, _ = complete_case({"callee_e164": attempt.number, "now_utc": at,
                                 "message_kind": campaign.message_kind,
                                 "campaign": record.name}, facts)
        decision = decide(case)
        when: datetime | None = at
        if not decision.allowed:
            why = f"{decision.reason.value}: {decision.detail}"
            when = next_allowed(case) if decision.reason in TIME_BOUND else None
        if when is not None and when < campaign.ends_at() and (best is None or when < best[0]):
            best = (when, attempt.number, why)
    if best is None:
        return None
    at_once = best[0] <= now
    return {"at": best[0].isoformat(), "number": best[1], "now": at_once,
            "why_not_now": None if at_once else best[2]}


#: Columns of ``campaign export``: the contact, where it stands, and its last attempt.
CONTACT_COLUMNS = ("number", "name", "address_state", "source_row", "result", "result_detail",
                   "attempts", "last_outcome", "last_reason", "last_sip_code",
                   "last_dialed_at", "last_ended_at", "last_call_id", "next_due", "abandoned")
#: Columns of ``campaign export --attempts``: every attempt with its decision trail.
ATTEMPT_COLUMNS = ("number", "name", "source_row", "attempt_no", "outcome", "reason",
                   "sip_code", "result", "result_detail", "greeted_at", "abandoned",
                   "decision", "rule_id", "decision_detail", "checked_at", "deferrals",
                   "deferred_to", "next_due", "node", "dialed_at", "ended_at", "call_id",
                   "trail")


def contact_rows(contacts: Sequence[ContactRecord],
                 attempts: Sequence[AttemptRecord]) -> Iterator[list[object]]:
    """Per contact, in the order of the imported rows: its result (or the
    attempt still due), whether a live answer of it was abandoned (blank:
    never a live answer), and its last finished attempt."""
    by_contact: dict[int, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    for contact in contacts:
        tries = by_contact.get(contact.id, [])
        dialled = [a for a in tries if a.dialed_at is not None]
        last = next((a for a in reversed(tries) if a.outcome is not None), None)
        due = next((a.next_due for a in tries if a.outcome is None), None)
        live = [a.abandoned for a in tries if a.abandoned is not None]
        yield [contact.number, contact.name or "", contact.address_state or "",
               contact.source_row, contact.result or "", contact.result_detail or "",
               len(dialled),
               last.outcome if last else "", (last.reason or "") if last else "",
               (last.sip_code or "") if last else "", _iso(last.dialed_at if last else None),
               _iso(last.ended_at if last else None), (last.call_id or "") if last else "",
               _iso(due), _flag(any(live)) if live else ""]


def attempt_rows(contacts: Sequence[ContactRecord],
                 attempts: Sequence[AttemptRecord]) -> Iterator[list[object]]:
    """Per attempt, contact by contact in the order of the imported rows: how
    it ended and the dialing rules' last word on it (``trail``: all of it, JSON)."""
    by_contact: dict[int, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    for contact in contacts:
        for a in by_contact.get(contact.id, []):
            trail = a.decision or {}
            yield [contact.number, contact.name or "", contact.source_row, a.attempt_no,
                   a.outcome or "", a.reason or "", a.sip_code or "", a.result or "",
                   a.result_detail or "", _iso(a.greeted_at),
                   "" if a.abandoned is None else _flag(a.abandoned),
                   trail.get("reason", ""), trail.get("rule_id", ""), trail.get("detail", ""),
                   trail.get("checked_at", ""), a.deferrals, trail.get("deferred_to", ""),
                   _iso(a.next_due) if a.outcome is None else "", a.node or "",
                   _iso(a.dialed_at), _iso(a.ended_at), a.call_id or "",
                   json.dumps(trail, sort_keys=True, default=str) if trail else ""]


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()
