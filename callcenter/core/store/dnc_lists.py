"""The company's internal do-not-call list, its audit trail, and callees' consents.

``store.dnc`` (a ``DncLists``) adds and removes numbers on the internal
list, each change written in the same transaction as its ``dnc_audit`` row,
and records and revokes consents. Numbers must already be E.164
(``compliance.dnc_numbers.normalize_number`` makes them so): the store
refuses anything else rather than keep a number no lookup would find.

Adding a listed number, or removing one that is not listed, changes nothing
and writes no audit row; the methods say whether they changed the list.
Reads go to the database every time: an opt-out must stop the next dial on
every node at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.core.store.checks import choice, refused
from callcenter.core.store.models import ConsentRow, DncAuditRow, InternalDncRow

if TYPE_CHECKING:
    from callcenter.core.store.store import Store

#: Where an internal-list change came from.
DNC_SOURCES = ("cli", "api", "opt_out_dtmf", "opt_out_voice", "import")
#: Consent kinds, weakest first (the values of ``compliance.dial_case.Consent``).
CONSENT_KINDS = ("none", "express", "express_written")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass(frozen=True, slots=True)
class InternalDncEntry:
    """A number on the internal list: since when, from where, by whom, why."""

    number: str
    added_at: datetime
    source: str
    actor: str
    reason: str | None

    @classmethod
    def from_row(cls, row: InternalDncRow) -> InternalDncEntry:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.number, row.added_at, row.source, row.actor, row.reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values, the time in ISO 8601."""
        return {"number": self.number, "added_at": self.added_at.isoformat(),
                "source": self.source, "actor": self.actor, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DncAuditEntry:
    """One change of the internal list; ``action`` is ``add`` or ``remove``."""

    id: int
    number: str
    action: str
    at: datetime
    actor: str
    source: str
    reason: str | None

    @classmethod
    def from_row(cls, row: DncAuditRow) -> DncAuditEntry:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.number, row.action, row.at, row.actor, row.source, row.reason)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent; ``campaign`` None means every campaign of the company."""

    id: int
    number: str
    campaign: str | None
    kind: str
    given_at: datetime
    source: str
    evidence: str
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ConsentRow) -> ConsentRecord:
        """Copy an ORM row (inside its session) into a detached record."""
        return cls(row.id, row.number, row.campaign, row.kind, row.given_at, row.source,
                   row.evidence, row.revoked_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values, times in ISO 8601."""
        return {"id": self.id, "number": self.number, "campaign": self.campaign,
                "kind": self.kind, "given_at": self.given_at.isoformat(),
                "source": self.source, "evidence": self.evidence,
                "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat()}


def _e164(number: str) -> str:
    if not isinstance(number, str) or not _E164.fullmatch(number):
        raise refused(f"{number!r} is not an E.164 number (+ and up to 15 digits)")
    return number


def _when(at: datetime | None, name: str) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise refused(f"{name} is a naive datetime ({at!r}); pass a timezone-aware one")
    return at


def _for_campaign(campaign: str) -> ColumnElement[bool]:
    return or_(ConsentRow.campaign.is_(None), ConsentRow.campaign == campaign)


class DncLists:
    """The internal do-not-call list and the consents of one `Store`.

    Every method is one unit of work. Times given must be timezone-aware
    (None: now); times returned are UTC.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, number: str, *, source: str, actor: str, reason: str | None = None,
            at: datetime | None = None) -> bool:
        """Put ``number`` on the internal list; False if it was already there."""
        return self.add_many([number], source=source, actor=actor, reason=reason, at=at) == 1

    def add_many(self, numbers: Iterable[str], *, source: str, actor: str,
                 reason: str | None = None, at: datetime | None = None) -> int:
        """Put every number on the list in one transaction (all or none); returns how
        many were new. Each new number gets its audit row."""
        wanted = sorted({_e164(n) for n in numbers})
        choice(source, DNC_SOURCES, "source")
        when = _when(at, "at")
        if not wanted:
            return 0
        rows = [{"number": n, "added_at": when, "source": source, "actor": actor,
                 "reason": reason} for n in wanted]
        with self._store._unit(f"add {len(wanted)} number(s) to the internal DNC list",
                               write=True) as s:
            new = sorted(s.scalars(self._insert_new(), rows))
            s.add_all(DncAuditRow(number=n, action="add", at=when, actor=actor, source=source,
                                  reason=reason) for n in new)
            return len(new)

    def _insert_new(self) -> Any:
        # ON CONFLICT DO NOTHING ... RETURNING: only the rows this statement inserted come
        # back, so a number another node adds at the same moment is audited once.
        insert = (sqlite_insert if self._store.engine.dialect.name == "sqlite"
                  else postgresql_insert)
        return insert(InternalDncRow).on_conflict_do_nothing().returning(InternalDncRow.number)

    def remove(self, number: str, *, source: str, actor: str, reason: str | None = None,
               at: datetime | None = None) -> bool:
        """Take ``number`` off the internal list; False if it was not on it."""
        _e164(number)
        choice(source, DNC_SOURCES, "source")
        when = _when(at, "at")
        query = delete(InternalDncRow).where(InternalDncRow.number == number)
        with self._store._unit(f"remove {number} from the internal DNC list", write=True) as s:
            if not s.execute(query).rowcount:  # type: ignore[attr-defined]
                return False
            s.add(DncAuditRow(number=number, action="remove", at=when, actor=actor,
                              source=source, reason=reason))
            return True

    def entry(self, number: str) -> InternalDncEntry | None:
        """The internal list's entry for ``number``, or None if it is not listed."""
        with self._store._unit(f"read {number} on the internal DNC list") as s:
            row = s.get(InternalDncRow, _e164(number))
            return None if row is None else InternalDncEntry.from_row(row)

    def contains(self, number: str) -> bool:
        """Whether the internal list holds ``number`` (read from the database now)."""
        query = select(InternalDncRow.number).where(InternalDncRow.number == _e164(number))
        with self._store._unit(f"look {number} up on the internal DNC list") as s:
            return s.scalar(query) is not None

    def entries(self) -> list[InternalDncEntry]:
        """The whole internal list, by number."""
        with self._store._unit("read the internal DNC list") as s:
            return [InternalDncEntry.from_row(r)
                    for r in s.scalars(select(InternalDncRow).order_by(InternalDncRow.number))]

    def audit(self, number: str | None = None) -> list[DncAuditEntry]:
        """The changes of the list (of one number, if given), oldest first."""
        query = select(DncAuditRow).order_by(DncAuditRow.at, DncAuditRow.id)
        if number is not None:
            query = query.where(DncAuditRow.number == _e164(number))
        with self._store._unit("read the DNC audit trail") as s:
            return [DncAuditEntry.from_row(r) for r in s.scalars(query)]

    def add_consent(self, number: str, kind: str, *, source: str, evidence: str,
                    campaign: str | None = None,
                    given_at: datetime | None = None) -> ConsentRecord:
        """Record a consent ``kind`` (``CONSENT_KINDS``) given for ``campaign`` (None: all).

        ``evidence`` says where the proof is (a signed form's id, a web
        form's submission, a recording of the call).
        """
        row = ConsentRow(number=_e164(number), campaign=campaign,
                         kind=choice(kind, CONSENT_KINDS, "consent kind"),
                         given_at=_when(given_at, "given_at"), source=source,
                         evidence=evidence, revoked_at=None)
        with self._store._unit(f"record the consent of {number}", write=True) as s:
            s.add(row)
            s.flush()
            return ConsentRecord.from_row(row)

    def revoke_consents(self, number: str, *, campaign: str | None = None,
                        at: datetime | None = None) -> int:
        """Revoke the number's unrevoked consents (for ``campaign`` only, when given:
        consents for every campaign stay); returns how many were revoked."""
        query = (update(ConsentRow)
                 .where(ConsentRow.number == _e164(number), ConsentRow.revoked_at.is_(None))
                 .values(revoked_at=_when(at, "at")))
        if campaign is not None:
            query = query.where(ConsentRow.campaign == campaign)
        with self._store._unit(f"revoke the consents of {number}", write=True) as s:
            return int(s.execute(query).rowcount)  # type: ignore[attr-defined]

    def consents(self, number: str, *, campaign: str | None = None,
                 include_revoked: bool = False) -> list[ConsentRecord]:
        """The number's consents, oldest first; with ``campaign``, those that cover it."""
        query = (select(ConsentRow).where(ConsentRow.number == _e164(number))
                 .order_by(ConsentRow.given_at, ConsentRow.id))
        if campaign is not None:
            query = query.where(_for_campaign(campaign))
        if not include_revoked:
            query = query.where(ConsentRow.revoked_at.is_(None))
        with self._store._unit(f"read the consents of {number}") as s:
            return [ConsentRecord.from_row(r) for r in s.scalars(query)]

    def strongest_consent(self, number: str, campaign: str | None) -> str:
        """The strongest unrevoked consent kind covering ``campaign`` (None: consents
        for every campaign only); ``none`` when there is none."""
        query = (select(ConsentRow.kind).distinct()
                 .where(ConsentRow.number == _e164(number), ConsentRow.revoked_at.is_(None)))
        query = query.where(ConsentRow.campaign.is_(None) if campaign is None
                            else _for_campaign(campaign))
        with self._store._unit(f"read the consent of {number}") as s:
            kinds = set(s.scalars(query)) & set(CONSENT_KINDS)
        return max(kinds, key=CONSENT_KINDS.index, default="none")
