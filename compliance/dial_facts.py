"""Where the facts of a dial come from when the caller does not give them.

``DialFacts`` is the port the engine's stores implement (the internal DNC
list, the National DNC Registry snapshot, consent records, the attempt log,
the contact's address); ``compliance.store_dial_facts.StoreDialFacts`` is
the engine's. ``EmptyDialFacts`` stands for empty stores (tests, tools):
nobody on any list, no consent, no attempts, no snapshot, so it never lets
a call through that the stores could have stopped except by the internal
list, which is empty there too.

``complete_case`` builds a ``DialCase`` from the facts a caller gave and
asks the port for the rest: "a field present overrides the engine's stores,
a field absent is taken from them".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from compliance.dial_case import Consent, DialCase, DialCaseError, MessageKind

#: Fields a caller must give: they say which call is asked about, and when.
REQUIRED_FIELDS: tuple[str, ...] = ("callee_e164", "now_utc", "message_kind", "campaign")
#: Fields taken from ``DialFacts`` when the caller leaves them out.
STORE_FIELDS: tuple[str, ...] = ("callee_address_state", "recent_attempts", "on_national_dnc",
                                 "national_dnc_snapshot_date", "on_internal_dnc", "consent")
#: How far back ``recent_attempts`` must reach: the longest cap window.
ATTEMPT_LOOKBACK = timedelta(days=7)


class DialFacts(Protocol):
    """Read-only lookups of what the engine knows about a callee."""

    def on_internal_dnc(self, callee_e164: str) -> bool:
        """Whether the company's own do-not-call list holds the number.

        An opt-out said during a call must show here at once, before the next
        dial of any campaign: read it from the store, never from a cache.
        """
        ...

    def on_national_dnc(self, callee_e164: str) -> bool:
        """Whether the latest National DNC Registry snapshot lists the number."""
        ...

    def national_dnc_snapshot_date(self) -> date | None:
        """The date of the latest National DNC Registry snapshot, None if there is none."""
        ...

    def consent(self, callee_e164: str, campaign: str) -> Consent:
        """The strongest unrevoked consent the callee gave for ``campaign``'s calls."""
        ...

    def recent_attempts(self, callee_e164: str, campaign: str, kind: MessageKind,
                        since: datetime) -> Sequence[datetime]:
        """Attempts at or after ``since`` that count toward the caps of this call.

        Telemarketing: the attempts of ``campaign`` to the number. Healthcare
        reminders: every healthcare-reminder attempt to the number, whatever
        the campaign (the caps protect the callee, not a campaign). Answered
        or not, every attempt counts.
        """
        ...

    def address_state(self, callee_e164: str, campaign: str) -> str | None:
        """The postal code of the state in the callee's address on file, or None."""
        ...


class EmptyDialFacts:
    """``DialFacts`` with empty stores: the default until a store implements the port."""

    def on_internal_dnc(self, callee_e164: str) -> bool:
        """Nobody is on an empty list."""
        return False

    def on_national_dnc(self, callee_e164: str) -> bool:
        """No snapshot lists nobody (and its missing date stops telemarketing)."""
        return False

    def national_dnc_snapshot_date(self) -> date | None:
        """No snapshot was ever loaded."""
        return None

    def consent(self, callee_e164: str, campaign: str) -> Consent:
        """No consent on record."""
        return Consent.NONE

    def recent_attempts(self, callee_e164: str, campaign: str, kind: MessageKind,
                        since: datetime) -> Sequence[datetime]:
        """No attempts on record."""
        return ()

    def address_state(self, callee_e164: str, campaign: str) -> str | None:
        """No address on file."""
        return None


def complete_case(given: Mapping[str, Any], facts: DialFacts) -> tuple[DialCase, tuple[str, ...]]:
    """The case for ``given`` facts, the missing ones looked up in ``facts``.

    ``given`` holds typed values under ``DialCase``'s field names and must
    hold every ``REQUIRED_FIELDS``. Returns the case and the names of the
    fields that came from ``facts``. Raises ``DialCaseError`` for a missing
    required field or an unknown one.
    """
    unknown = sorted(set(given) - set(REQUIRED_FIELDS) - set(STORE_FIELDS))
    if unknown:
        raise DialCaseError(unknown[0], "unknown field; known: "
                            + ", ".join(REQUIRED_FIELDS + STORE_FIELDS))
    for name in REQUIRED_FIELDS:
        if name not in given:
            raise DialCaseError(name, "required")
    # The required fields alone make a valid case: check them before any lookup.
    asked = DialCase(**{name: given[name] for name in REQUIRED_FIELDS})
    number, campaign = asked.callee_e164, asked.campaign
    lookups: dict[str, Callable[[], object]] = {
        "callee_address_state": lambda: facts.address_state(number, campaign),
        "recent_attempts": lambda: tuple(facts.recent_attempts(
            number, campaign, asked.message_kind, asked.now_utc - ATTEMPT_LOOKBACK)),
        "on_national_dnc": lambda: facts.on_national_dnc(number),
        "national_dnc_snapshot_date": facts.national_dnc_snapshot_date,
        "on_internal_dnc": lambda: facts.on_internal_dnc(number),
        "consent": lambda: facts.consent(number, campaign),
    }
    from_store = tuple(name for name in STORE_FIELDS if name not in given)
    values = dict(given) | {name: lookups[name]() for name in from_store}
    return DialCase(**values), from_store
