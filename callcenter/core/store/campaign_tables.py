"""Outbound campaigns in the store: definitions, contacts, and the durable attempt log.

``store.campaigns`` (a `CampaignTables`) is what the dialer and the
``callcenter campaign`` commands use:

- campaigns: `put_campaign` (create or update from the YAML), `set_state`;
- contacts: `import_contacts` writes every contact, its first attempt and
  the consents it brings in one transaction: all rows or none;
- attempts, the scheduler's durable state. `claim_due` takes due attempts
  for one node **before** anything is dialled (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL, with the campaign row locked so that ``max_in_flight``
  holds across nodes; on SQLite the ``BEGIN IMMEDIATE`` write transaction
  makes the select-and-flip atomic). `mark_dialing` stamps ``dialed_at``
  just before the INVITE, `finish` closes an attempt (and schedules the
  next one, or gives the contact its result) in one transaction, `defer`
  hands a claimed attempt back with a later ``next_due``, `release` hands
  back one that was never dialled.
- crash recovery: `unfinished(node)` lists what a dead node held. Claimed
  but never stamped ``dialed_at``: no INVITE went out, `release` it.
  Stamped: the callee may have been rung, so it is finished as ``unknown``
  (which counts toward the frequency caps) and retried only as the
  campaign's policy says.

`AsyncCampaignTables` offers the scheduler's methods on the `AsyncStore`'s
worker thread.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, func, insert, select, update

from callcenter.core.store.campaign_records import (
    ATTEMPT_OUTCOMES,
    CAMPAIGN_STATES,
    AttemptRecord,
    CampaignRecord,
    ContactInput,
    ContactRecord,
)
from callcenter.core.store.campaign_rows import AttemptRow, CampaignRow, ContactRow
from callcenter.core.store.checks import aware, choice, refused
from callcenter.core.store.dnc_lists import CONSENT_KINDS
from callcenter.core.store.models import ConsentRow

if TYPE_CHECKING:
    from callcenter.core.store.async_store import AsyncStore
    from callcenter.core.store.store import Store

_E164 = re.compile(r"\+[1-9]\d{1,14}")
_CAMPAIGN_FIELDS = ("flow", "message_kind", "caller_id", "trunk", "business_name",
                    "callback_number", "max_concurrent", "calls_per_s", "ring_timeout_s",
                    "retry", "active_from", "active_until", "time_zone", "contact_fields",
                    "source")


def _open() -> ColumnElement[bool]:
    return AttemptRow.outcome.is_(None)


class CampaignTables:
    """The campaign rows of one `Store`; every method is one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Campaigns ------------------------------------------------------------

    def put_campaign(self, name: str, values: Mapping[str, Any], at: datetime) -> bool:
        """Create campaign ``name`` (state ``new``) or update its definition (its
        state stays); ``values`` holds every definition field. True if created."""
        missing = [f for f in _CAMPAIGN_FIELDS if f not in values]
        if missing:
            raise refused(f"campaign {name!r} lacks {', '.join(missing)}")
        aware(at, "at")
        data = {f: values[f] for f in _CAMPAIGN_FIELDS}
        with self._store._unit(f"store campaign {name}", write=True) as s:
            row = s.get(CampaignRow, name, with_for_update=True)
            if row is None:
                s.add(CampaignRow(name=name, state="new", created_at=at, updated_at=at, **data))
                return True
            for key, value in data.items():
                setattr(row, key, value)
            row.updated_at = at
            return False

    def campaign(self, name: str) -> CampaignRecord | None:
        """The campaign named ``name``, or None."""
        with self._store._unit(f"read campaign {name}") as s:
            row = s.get(CampaignRow, name)
            return None if row is None else CampaignRecord.from_row(row)

    def campaigns(self, *, state: str | None = None) -> list[CampaignRecord]:
        """Every campaign (in ``state``, if given), by name."""
        query = select(CampaignRow).order_by(CampaignRow.name)
        if state is not None:
            query = query.where(CampaignRow.state == choice(state, CAMPAIGN_STATES, "state"))
        with self._store._unit("read campaigns") as s:
            return [CampaignRecord.from_row(r) for r in s.scalars(query)]

    def set_state(self, name: str, state: str, at: datetime, *,
                  reason: str | None = None) -> None:
        """Run (``running``) or pause (``paused``) a campaign; ``reason`` says
        why when the dialer does it (a command's change clears it)."""
        choice(state, CAMPAIGN_STATES, "campaign state")
        with self._store._unit(f"set the state of campaign {name}", write=True) as s:
            row = s.get(CampaignRow, name)
            if row is None:
                raise refused(f"no campaign named {name!r}")
            row.state, row.updated_at, row.state_reason = state, aware(at, "at"), reason

    # Contacts -------------------------------------------------------------

    def contacts(self, campaign: str) -> list[ContactRecord]:
        """The contacts of ``campaign`` in the order of their CSV rows."""
        query = (select(ContactRow).where(ContactRow.campaign == campaign)
                 .order_by(ContactRow.source_row, ContactRow.id))
        with self._store._unit(f"read the contacts of campaign {campaign}") as s:
            return [ContactRecord.from_row(r) for r in s.scalars(query)]

    def numbers(self, campaign: str) -> dict[str, int]:
        """The numbers already in ``campaign``, with the CSV row each came from."""
        query = select(ContactRow.number, ContactRow.source_row).where(
            ContactRow.campaign == campaign)
        with self._store._unit(f"read the numbers of campaign {campaign}") as s:
            return {number: row for number, row in s.execute(query)}

    def import_contacts(self, campaign: str, contacts: Iterable[ContactInput], *,
                        at: datetime, first_due: datetime, evidence: str,
                        progress: Any = None) -> int:
        """Add ``contacts`` to ``campaign`` with their first attempts (due at
        ``first_due``) and their consents, in one transaction: all or none.

        A number already in the campaign is a `StoreError` and nothing is
        written. ``evidence`` (e.g. the file's name) goes with each consent,
        with the contact's row. ``progress``, if given, is called with the
        number of contacts written so far (a progress bar's ``update``).
        Returns how many contacts were added.
        """
        aware(at, "at")
        aware(first_due, "first_due")
        count = 0
        with self._store._unit(f"import contacts into campaign {campaign}", write=True) as s:
            if s.get(CampaignRow, campaign) is None:
                raise refused(f"no campaign named {campaign!r}")
            batch: list[ContactInput] = []
            for contact in contacts:
                batch.append(self._checked(contact))
                if len(batch) == 500:
                    count += self._write_batch(s, campaign, batch, at, first_due, evidence)
                    batch = []
                    if progress is not None:
                        progress(count)
            count += self._write_batch(s, campaign, batch, at, first_due, evidence)
            if progress is not None:
                progress(count)
        return count

    @staticmethod
    def _checked(contact: ContactInput) -> ContactInput:
        if not _E164.fullmatch(contact.number):
            raise refused(f"row {contact.source_row}: {contact.number!r} is not E.164")
        choice(contact.consent_kind, CONSENT_KINDS, "consent kind")
        if contact.consent_kind != "none" and contact.consent_date is None:
            raise refused(f"row {contact.source_row}: a consent needs its date")
        return contact

    @staticmethod
    def _write_batch(s: Any, campaign: str, batch: Sequence[ContactInput], at: datetime,
                     first_due: datetime, evidence: str) -> int:
        # Core inserts (executemany, and one multi-row INSERT ... RETURNING for the
        # contacts' ids): the ORM's unit of work made a 20,000-row file crawl.
        if not batch:
            return 0
        ids = dict(s.execute(insert(ContactRow).returning(ContactRow.number, ContactRow.id),
                             [{"campaign": campaign, "number": c.number, "name": c.name,
                               "address_state": c.address_state, "fields": dict(c.fields),
                               "source_row": c.source_row, "imported_at": at}
                              for c in batch]).all())
        s.execute(insert(AttemptRow), [
            {"campaign": campaign, "contact_id": ids[c.number], "number": c.number,
             "attempt_no": 1, "next_due": first_due, "deferrals": 0} for c in batch])
        consents = [{"number": c.number, "campaign": campaign, "kind": c.consent_kind,
                     "given_at": c.consent_date, "source": "campaign_import",
                     "evidence": f"{evidence}, row {c.source_row}", "revoked_at": None}
                    for c in batch if c.consent_kind != "none"]
        if consents:
            s.execute(insert(ConsentRow), consents)
        return len(batch)

    def address_state(self, number: str, campaign: str) -> str | None:
        """The address state of ``number``'s contact in ``campaign``, if any."""
        query = select(ContactRow.address_state).where(ContactRow.campaign == campaign,
                                                       ContactRow.number == number)
        with self._store._unit(f"read the address of {number}") as s:
            return s.scalar(query)

    # Attempts -------------------------------------------------------------

    def claim_due(self, campaign: str, at: datetime, *, node: str, limit: int,
                  max_in_flight: int) -> list[AttemptRecord]:
        """Claim up to ``limit`` attempts of ``campaign`` due at ``at`` for ``node``,
        oldest due first, keeping the campaign's attempts in flight (claimed,
        not finished, on any node) at most ``max_in_flight``.

        Claimers together never get the same attempt. Only a ``running``
        campaign's attempts are claimed.
        """
        aware(at, "at")
        if limit < 1:
            return []
        with self._store._unit(f"claim attempts of campaign {campaign}", write=True) as s:
            # Lock the campaign row: claimers of one campaign take turns, so the
            # in-flight count they read stays true until they commit.
            owner = s.get(CampaignRow, campaign, with_for_update=True)
            if owner is None or owner.state != "running":
                return []
            in_flight = s.scalar(select(func.count()).select_from(AttemptRow).where(
                AttemptRow.campaign == campaign, AttemptRow.claimed_at.is_not(None), _open()))
            room = min(limit, max_in_flight - int(in_flight or 0))
            if room < 1:
                return []
            query = (select(AttemptRow)
                     .where(AttemptRow.campaign == campaign, AttemptRow.claimed_at.is_(None),
                            _open(), AttemptRow.next_due <= at)
                     .order_by(AttemptRow.next_due, AttemptRow.id)
                     .limit(room).with_for_update(skip_locked=True))
            rows = list(s.scalars(query))
            for row in rows:
                row.claimed_at, row.node = at, node
            s.flush()
            contacts = {c.id: c for c in s.scalars(select(ContactRow).where(
                ContactRow.id.in_([r.contact_id for r in rows])))}
            return [AttemptRecord.from_rows(r, contacts.get(r.contact_id)) for r in rows]

    def mark_dialing(self, attempt_id: int, at: datetime, decision: Mapping[str, Any]) -> None:
        """Stamp ``dialed_at`` (and the rules' decision): the INVITE goes out next."""
        with self._store._unit(f"mark attempt {attempt_id} dialing", write=True) as s:
            row = self._claimed(s, attempt_id)
            row.dialed_at, row.decision = aware(at, "at"), dict(decision)

    def defer(self, attempt_id: int, next_due: datetime,
              decision: Mapping[str, Any] | None) -> None:
        """Hand a claimed, undialled attempt back, due again at ``next_due``."""
        with self._store._unit(f"defer attempt {attempt_id}", write=True) as s:
            row = self._claimed(s, attempt_id)
            row.claimed_at = row.node = row.dialed_at = None
            row.next_due = aware(next_due, "next_due")
            row.deferrals += 1
            if decision is not None:
                row.decision = dict(decision)

    def release(self, attempt_id: int) -> None:
        """Hand back a claimed attempt that was never dialled, due as before."""
        with self._store._unit(f"release attempt {attempt_id}", write=True) as s:
            row = self._claimed(s, attempt_id)
            row.claimed_at = row.node = row.dialed_at = None

    def finish(self, attempt_id: int, outcome: str, at: datetime, *,
               sip_code: int | None = None, reason: str | None = None,
               decision: Mapping[str, Any] | None = None, retry_at: datetime | None = None,
               result_detail: str | None = None,
               call_id: str | None = None, result: str | None = None,
               greeted_at: datetime | None = None,
               abandoned: bool | None = None) -> AttemptRecord | None:
        """Close an attempt with ``outcome`` (and the CDR id of its call, if one was
        set up); in the same transaction, schedule the next attempt at
        ``retry_at``, or (None) give the contact its final result.

        A live answer brings what its flow reached (``result``, with
        ``result_detail``) and its greeting (``greeted_at``, ``abandoned``),
        kept on the attempt. The contact's final result is the flow's
        ``result`` if there is one, else ``outcome``; its detail is
        ``result_detail``, else ``reason``.

        Returns the new attempt, if one was scheduled.
        """
        choice(outcome, ATTEMPT_OUTCOMES, "attempt outcome")
        aware(at, "at")
        if greeted_at is not None:
            aware(greeted_at, "greeted_at")
        with self._store._unit(f"finish attempt {attempt_id}", write=True) as s:
            row = self._claimed(s, attempt_id)
            row.outcome, row.ended_at, row.sip_code, row.reason = outcome, at, sip_code, reason
            row.greeted_at, row.abandoned = greeted_at, abandoned
            if result is not None:
                row.result, row.result_detail = result, result_detail
            if decision is not None:
                row.decision = dict(decision)
            if call_id is not None:
                row.call_id = call_id
            if retry_at is None:
                contact = s.get(ContactRow, row.contact_id)
                assert contact is not None
                contact.result = result or outcome
                contact.result_detail = result_detail or reason
                return None
            following = AttemptRow(campaign=row.campaign, contact_id=row.contact_id,
                                   number=row.number, attempt_no=row.attempt_no + 1,
                                   next_due=aware(retry_at, "retry_at"), deferrals=0)
            s.add(following)
            s.flush()
            return AttemptRecord.from_rows(following)

    @staticmethod
    def _claimed(s: Any, attempt_id: int) -> AttemptRow:
        row: AttemptRow | None = s.get(AttemptRow, attempt_id, with_for_update=True)
        if row is None:
            raise refused(f"unknown attempt {attempt_id}")
        if row.outcome is not None:
            raise refused(f"attempt {attempt_id} has already ended ({row.outcome})")
        if row.claimed_at is None:
            raise refused(f"attempt {attempt_id} is not claimed")
        return row

    def unfinished(self, node: str) -> list[AttemptRecord]:
        """Attempts ``node`` claimed and never finished: a crash's leftovers when
        the node is gone."""
        query = (select(AttemptRow)
                 .where(AttemptRow.node == node, AttemptRow.claimed_at.is_not(None), _open())
                 .order_by(AttemptRow.id))
        with self._store._unit(f"read the unfinished attempts of node {node}") as s:
            return [AttemptRecord.from_rows(r) for r in s.scalars(query)]

    def attempts(self, campaign: str, *, number: str | None = None) -> list[AttemptRecord]:
        """The attempts of ``campaign`` (to ``number``), in order of creation."""
        query = select(AttemptRow).where(AttemptRow.campaign == campaign)
        if number is not None:
            query = query.where(AttemptRow.number == number)
        with self._store._unit(f"read the attempts of campaign {campaign}") as s:
            return [AttemptRecord.from_rows(r) for r in s.scalars(query.order_by(AttemptRow.id))]

    def expire_open(self, campaign: str, at: datetime) -> int:
        """Finish every unclaimed open attempt of ``campaign`` as ``expired`` (its
        active dates are over); their contacts get that result."""
        aware(at, "at")
        open_rows = (select(AttemptRow.contact_id)
                     .where(AttemptRow.campaign == campaign, AttemptRow.claimed_at.is_(None),
                            _open()))
        with self._store._unit(f"expire the attempts of campaign {campaign}", write=True) as s:
            s.execute(update(ContactRow).where(ContactRow.id.in_(open_rows))
                      .values(result="expired", result_detail="campaign ended"))
            done = s.execute(update(AttemptRow)
                             .where(AttemptRow.campaign == campaign,
                                    AttemptRow.claimed_at.is_(None), _open())
                             .values(outcome="expired", ended_at=at))
            return int(done.rowcount)  # type: ignore[attr-defined]

    def counts(self, campaign: str) -> dict[str, int]:
        """Attempts of ``campaign`` by outcome, plus ``pending`` (due or scheduled,
        unclaimed) and ``in_flight`` (claimed, not finished)."""
        with self._store._unit(f"count the attempts of campaign {campaign}") as s:
            by = select(AttemptRow.outcome, func.count()).where(
                AttemptRow.campaign == campaign).group_by(AttemptRow.outcome)
            counts = {outcome: n for outcome, n in s.execute(by) if outcome is not None}
            counts["in_flight"] = int(s.scalar(select(func.count()).select_from(AttemptRow)
                                              .where(AttemptRow.campaign == campaign,
                                                     AttemptRow.claimed_at.is_not(None),
                                                     _open())) or 0)
            counts["pending"] = int(s.scalar(select(func.count()).select_from(AttemptRow)
                                            .where(AttemptRow.campaign == campaign,
                                                   AttemptRow.claimed_at.is_(None),
                                                   _open())) or 0)
            counts["contacts"] = int(s.scalar(select(func.count()).select_from(ContactRow)
                                             .where(ContactRow.campaign == campaign)) or 0)
            return counts

    def next_due(self, campaign: str) -> datetime | None:
        """When the earliest open, unclaimed attempt of ``campaign`` is due."""
        query = select(func.min(AttemptRow.next_due)).where(
            AttemptRow.campaign == campaign, AttemptRow.claimed_at.is_(None), _open())
        with self._store._unit(f"read the next attempt of campaign {campaign}") as s:
            value = s.scalar(query)
        return None if value is None else _as_utc(value)

    def abandonment(self, campaign: str, since: datetime) -> tuple[int, int]:
        """``(abandoned, live answers)`` among the attempts of ``campaign`` that
        ended at or after ``since``; an attempt is a live answer when its
        ``abandoned`` is set (True or False)."""
        query = select(func.count(), func.sum(case((AttemptRow.abandoned.is_(True), 1),
                                                   else_=0))).where(
            AttemptRow.campaign == campaign, AttemptRow.abandoned.is_not(None),
            AttemptRow.ended_at >= aware(since, "since"))
        with self._store._unit(f"count the abandoned calls of campaign {campaign}") as s:
            live, abandoned = s.execute(query).one()
        return int(abandoned or 0), int(live or 0)

    def has_open(self, campaign: str) -> bool:
        """Whether ``campaign`` has an attempt not finished (due, deferred or under way)."""
        query = select(AttemptRow.id).where(AttemptRow.campaign == campaign, _open()).limit(1)
        with self._store._unit(f"look for open attempts of campaign {campaign}") as s:
            return s.scalar(query) is not None

    def dial_times(self, number: str, since: datetime, *, campaign: str | None = None,
                   message_kind: str | None = None) -> list[datetime]:
        """When ``number`` was dialled since ``since`` (every attempt that reached
        ``dialed_at``, answered or not, ``unknown`` ones included): of
        ``campaign`` if given, of every campaign of ``message_kind`` if given."""
        query = select(AttemptRow.dialed_at).where(
            AttemptRow.number == number, AttemptRow.dialed_at >= aware(since, "since"))
        if campaign is not None:
            query = query.where(AttemptRow.campaign == campaign)
        if message_kind is not None:
            query = query.where(AttemptRow.campaign.in_(
                select(CampaignRow.name).where(CampaignRow.message_kind == message_kind)))
        with self._store._unit(f"read the dial times of {number}") as s:
            return sorted(t for t in s.scalars(query) if t is not None)


def _as_utc(value: datetime) -> datetime:
    # func.min() comes back untyped on SQLite: a naive UTC datetime or its text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AsyncCampaignTables:
    """`CampaignTables` for asyncio code, run on the `AsyncStore`'s worker thread."""

    def __init__(self, store: AsyncStore) -> None:
        self._async = store
        self._tables = store.store.campaigns

    async def campaigns(self, *, state: str | None = None) -> list[CampaignRecord]:
        """See `CampaignTables.campaigns`."""
        return await self._async._run(functools.partial(self._tables.campaigns, state=state))

    async def claim_due(self, campaign: str, at: datetime, *, node: str, limit: int,
                        max_in_flight: int) -> list[AttemptRecord]:
        """See `CampaignTables.claim_due`."""
        return await self._async._run(functools.partial(
            self._tables.claim_due, campaign, at, node=node, limit=limit,
            max_in_flight=max_in_flight))

    async def mark_dialing(self, attempt_id: int, at: datetime,
                           decision: Mapping[str, Any]) -> None:
        """See `CampaignTables.mark_dialing`."""
        await self._async._run(self._tables.mark_dialing, attempt_id, at, decision)

    async def defer(self, attempt_id: int, next_due: datetime,
                    decision: Mapping[str, Any] | None) -> None:
        """See `CampaignTables.defer`."""
        await self._async._run(self._tables.defer, attempt_id, next_due, decision)

    async def release(self, attempt_id: int) -> None:
        """See `CampaignTables.release`."""
        await self._async._run(self._tables.release, attempt_id)

    async def finish(self, attempt_id: int, outcome: str, at: datetime, *,
                     sip_code: int | None = None, reason: str | None = None,
                     decision: Mapping[str, Any] | None = None,
                     retry_at: datetime | None = None, result_detail: str | None = None,
                     call_id: str | None = None, result: str | None = None,
                     greeted_at: datetime | None = None,
                     abandoned: bool | None = None) -> AttemptRecord | None:
        """See `CampaignTables.finish`."""
        return await self._async._run(functools.partial(
            self._tables.finish, attempt_id, outcome, at, sip_code=sip_code, reason=reason,
            decision=decision, retry_at=retry_at, result_detail=result_detail,
            call_id=call_id, result=result, greeted_at=greeted_at, abandoned=abandoned))

    async def unfinished(self, node: str) -> list[AttemptRecord]:
        """See `CampaignTables.unfinished`."""
        return await self._async._run(self._tables.unfinished, node)

    async def expire_open(self, campaign: str, at: datetime) -> int:
        """See `CampaignTables.expire_open`."""
        return await self._async._run(self._tables.expire_open, campaign, at)

    async def abandonment(self, campaign: str, since: datetime) -> tuple[int, int]:
        """See `CampaignTables.abandonment`."""
        return await self._async._run(self._tables.abandonment, campaign, since)

    async def set_state(self, name: str, state: str, at: datetime, *,
                        reason: str | None = None) -> None:
        """See `CampaignTables.set_state`."""
        await self._async._run(functools.partial(self._tables.set_state, reason=reason),
                               name, state, at)

    async def has_open(self, campaign: str) -> bool:
        """See `CampaignTables.has_open`."""
        return await self._async._run(self._tables.has_open, campaign)
