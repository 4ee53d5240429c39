"""``DialFacts`` from the engine's stores: the SQL store and the registry snapshot.

``StoreDialFacts`` answers the dialing rules' questions from what the engine
keeps:

- the internal do-not-call list and the consents: the store's ``dnc``
  tables, read on every question (an opt-out stops the next dial at once);
- the National DNC Registry: the node's current snapshot file
  (``compliance.dnc_registry``), loaded once when the facts are built, so
  that a listing and the snapshot date it is judged by always come from the
  same snapshot. Build new facts for each dialing pass to pick up an import;
- the recent attempts: the campaigns' attempt log (``store.campaigns``),
  every attempt that reached its dial (``dialed_at``), answered or not,
  including those a dead node left ``unknown``: of this campaign for
  telemarketing and informational calls, of every healthcare-reminder
  campaign for healthcare reminders (the caps protect the callee);
- the address on file: the state of the campaign's contact with that
  number, or None (the number's own states and zones decide).

A number that is not E.164 is on no list and has no consent: the rules
refuse it as ``invalid_number`` anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from callcenter.core.store import Store
from compliance.dial_case import Consent, MessageKind
from compliance.dnc_registry import NationalDncList, SnapshotFolder

_E164 = re.compile(r"\+[1-9]\d{1,14}")


class StoreDialFacts:
    """``DialFacts`` read from a ``Store`` and a National DNC snapshot."""

    def __init__(self, store: Store, registry: NationalDncList | None) -> None:
        """Facts from ``store`` and ``registry`` (None: no snapshot was ever imported)."""
        self._store = store
        self._registry = registry

    @classmethod
    def of(cls, store: Store, data_dir: Path) -> StoreDialFacts:
        """Facts from ``store`` and the current snapshot under the node's ``data_dir``.

        Raises ``RegistrySnapshotError`` when that snapshot is damaged.
        """
        return cls(store, SnapshotFolder.of(data_dir).load_current())

    @property
    def registry(self) -> NationalDncList | None:
        """The National DNC snapshot these facts read, None if there is none."""
        return self._registry

    def on_internal_dnc(self, callee_e164: str) -> bool:
        """Whether the internal list holds the number, read from the store now."""
        return bool(_E164.fullmatch(callee_e164)) and self._store.dnc.contains(callee_e164)

    def on_national_dnc(self, callee_e164: str) -> bool:
        """Whether the loaded snapshot lists the number (False without a snapshot)."""
        return self._registry is not None and self._registry.contains(callee_e164)

    def national_dnc_snapshot_date(self) -> date | None:
        """The loaded snapshot's date, None without one (which stops telemarketing)."""
        return None if self._registry is None else self._registry.snapshot_date

    def consent(self, callee_e164: str, campaign: str) -> Consent:
        """The strongest unrevoked consent for ``campaign`` or for every campaign."""
        if not _E164.fullmatch(callee_e164):
            return Consent.NONE
        return Consent(self._store.dnc.strongest_consent(callee_e164, campaign))

    def recent_attempts(self, callee_e164: str, campaign: str, kind: MessageKind,
                        since: datetime) -> Sequence[datetime]:
        """When the number was dialled since ``since`` (see the module docstring)."""
        if not _E164.fullmatch(callee_e164):
            return ()
        if kind is MessageKind.HEALTHCARE_REMINDER:
            return tuple(self._store.campaigns.dial_times(callee_e164, since,
                                                          message_kind=kind.value))
        return tuple(self._store.campaigns.dial_times(callee_e164, since, campaign=campaign))

    def address_state(self, callee_e164: str, campaign: str) -> str | None:
        """The address state of the campaign's contact with this number, or None."""
        if not _E164.fullmatch(callee_e164):
            return None
        return self._store.campaigns.address_state(callee_e164, campaign)
