"""The internal DNC list, its audit trail and consents, on SQLite and PostgreSQL,
and ``StoreDialFacts`` feeding them and the registry snapshot to the dialing rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.core.errors import StoreError
from callcenter.core.store import AsyncStore, Store
from compliance.dial_case import Consent, MessageKind
from compliance.dial_facts import complete_case
from compliance.dialing_rules import decide
from compliance.dnc_registry import NationalDncList, SnapshotFolder
from compliance.store_dial_facts import StoreDialFacts
from tests.compliance.dial_cases import NEW_YORK, TUESDAY_1500Z

T0 = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
OTHER = "+13035550199"


def test_add_and_remove_write_one_audit_row_per_change(store: Store) -> None:
    dnc = store.dnc
    assert dnc.add(NEW_YORK, source="cli", actor="ann", reason="asked", at=T0)
    assert not dnc.add(NEW_YORK, source="api", actor="bob", at=T0 + timedelta(1))
    entry = dnc.entry(NEW_YORK)
    assert entry is not None and (entry.added_at, entry.source, entry.actor, entry.reason) == (
        T0, "cli", "ann", "asked")
    assert dnc.contains(NEW_YORK) and not dnc.contains(OTHER)

    assert dnc.remove(NEW_YORK, source="api", actor="bob", reason="mistake",
                      at=T0 + timedelta(hours=2))
    assert not dnc.remove(NEW_YORK, source="api", actor="bob")
    assert not dnc.contains(NEW_YORK) and dnc.entry(NEW_YORK) is None
    audit = dnc.audit(NEW_YORK)
    assert [(a.action, a.actor, a.source, a.reason, a.at) for a in audit] == [
        ("add", "ann", "cli", "asked", T0),
        ("remove", "bob", "api", "mistake", T0 + timedelta(hours=2))]
    assert dnc.audit(OTHER) == []


def test_add_many_is_all_or_nothing_and_audits_only_new_numbers(store: Store) -> None:
    dnc = store.dnc
    dnc.add(NEW_YORK, source="opt_out_dtmf", actor="call 1")
    assert dnc.add_many([NEW_YORK, OTHER, OTHER, "+18505550100"], source="import",
                        actor="ann", reason="old list") == 2
    assert [e.number for e in dnc.entries()] == sorted([NEW_YORK, OTHER, "+18505550100"])
    assert [(a.number, a.source) for a in dnc.audit()] == [
        (NEW_YORK, "opt_out_dtmf"), ("+13035550199", "import"), ("+18505550100", "import")]
    with pytest.raises(StoreError, match="not an E.164 number"):
        dnc.add_many(["+19195550100", "919-555-0101"], source="import", actor="ann")
    assert not dnc.contains("+19195550100")
    many = [f"+1919555{i:04d}" for i in range(1200)]
    assert dnc.add_many(many, source="import", actor="ann") == 1200
    assert dnc.add_many(many, source="import", actor="ann") == 0
    assert len(dnc.audit()) == 3 + 1200


@pytest.mark.parametrize(("call", "problem"), [
    (lambda s: s.dnc.add("2025550123", source="cli", actor="a"), "not an E.164 number"),
    (lambda s: s.dnc.add(NEW_YORK, source="email", actor="a"), "unknown source 'email'"),
    (lambda s: s.dnc.add(NEW_YORK, source="cli", actor="a", at=datetime(2026, 1, 1)),
     "naive datetime"),
    (lambda s: s.dnc.remove("+1 202", source="cli", actor="a"), "not an E.164 number"),
    (lambda s: s.dnc.add_consent(NEW_YORK, "implied", source="x", evidence="y"),
     "unknown consent kind 'implied'"),
])
def test_refusals_are_store_errors_that_retrying_cannot_fix(store: Store, call: object,
                                                            problem: str) -> None:
    with pytest.raises(StoreError, match=problem) as error:
        call(store)  # type: ignore[operator]
    assert not error.value.retryable


def test_adding_at_once_from_many_threads_lists_once_and_audits_once(store: Store) -> None:
    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(lambda i: store.dnc.add(NEW_YORK, source="api", actor=f"t{i}"),
                              range(8)))
    assert sum(added) == 1 and len(store.dnc.audit(NEW_YORK)) == 1


def test_consents_strongest_unrevoked_per_campaign(store: Store) -> None:
    dnc = store.dnc
    assert dnc.strongest_consent(NEW_YORK, "c1") == "none"
    dnc.add_consent(NEW_YORK, "express", source="ivr", evidence="call 7 recording",
                    given_at=T0)
    written = dnc.add_consent(NEW_YORK, "express_written", source="web form",
                              evidence="submission 81", campaign="c1", given_at=T0)
    assert (written.number, written.campaign, written.kind, written.given_at) == (
        NEW_YORK, "c1", "express_written", T0)
    assert dnc.strongest_consent(NEW_YORK, "c1") == "express_written"
    assert dnc.strongest_consent(NEW_YORK, "c2") == "express"  # the company-wide one
    assert dnc.strongest_consent(NEW_YORK, None) == "express"
    assert dnc.strongest_consent(OTHER, "c1") == "none"
    assert [c.kind for c in dnc.consents(NEW_YORK, campaign="c2")] == ["express"]

    assert dnc.revoke_consents(NEW_YORK, campaign="c1", at=T0 + timedelta(days=1)) == 1
    assert dnc.strongest_consent(NEW_YORK, "c1") == "express"
    assert dnc.revoke_consents(NEW_YORK) == 1
    assert dnc.strongest_consent(NEW_YORK, "c1") == "none"
    kept = dnc.consents(NEW_YORK, include_revoked=True)
    assert [(c.kind, c.revoked_at is not None) for c in kept] == [
        ("express", True), ("express_written", True)]
    assert kept[1].revoked_at == T0 + timedelta(days=1)
    assert dnc.consents(NEW_YORK) == []


async def test_an_opt_out_from_asyncio_code_is_seen_at_once(url: str) -> None:
    astore = AsyncStore(Store(url))
    await astore.migrate()
    assert not await astore.on_internal_dnc(NEW_YORK)
    assert await astore.add_to_internal_dnc(NEW_YORK, source="opt_out_voice", actor="call 9",
                                            reason="said: stop calling me")
    assert await astore.on_internal_dnc(NEW_YORK)
    facts = StoreDialFacts(astore.store, None)
    assert facts.on_internal_dnc(NEW_YORK)
    await astore.close()


# --- StoreDialFacts and the rules ---------------------------------------------


def _decide(facts: StoreDialFacts, kind: MessageKind, now: datetime = TUESDAY_1500Z,
            number: str = NEW_YORK) -> tuple[str, str, tuple[str, ...]]:
    case, from_store = complete_case({"callee_e164": number, "now_utc": now,
                                      "message_kind": kind, "campaign": "c1"}, facts)
    decision = decide(case)
    return decision.reason.value, decision.rule_id, from_store


def _snapshot(data_dir: Path, day: date, *numbers: int) -> None:
    SnapshotFolder.of(data_dir).install(NationalDncList.from_numbers(list(numbers), day))


def test_the_national_list_stops_telemarketing_unless_written_consent(
        store: Store, tmp_path: Path) -> None:
    _snapshot(tmp_path, date(2026, 1, 10), 2125550100)
    facts = StoreDialFacts.of(store, tmp_path)
    assert facts.national_dnc_snapshot_date() == date(2026, 1, 10)
    assert facts.on_national_dnc(NEW_YORK) and not facts.on_national_dnc(OTHER)
    reason, rule, from_store = _decide(facts, MessageKind.TELEMARKETING)
    assert (reason, rule) == ("national_dnc", "dnc.national.listed")
    assert set(from_store) == {"callee_address_state", "recent_attempts", "on_national_dnc",
                               "national_dnc_snapshot_date", "on_internal_dnc", "consent"}
    store.dnc.add_consent(NEW_YORK, "express", source="ivr", evidence="call 3")
    assert _decide(facts, MessageKind.TELEMARKETING)[0] == "national_dnc"
    store.dnc.add_consent(NEW_YORK, "express_written", source="web", evidence="form 12",
                          campaign="c1")
    assert facts.consent(NEW_YORK, "c1") is Consent.EXPRESS_WRITTEN
    assert _decide(facts, MessageKind.TELEMARKETING)[0] == "ok"
    # Informational calls do not look at the registry: express consent is enough.
    assert _decide(facts, MessageKind.INFORMATIONAL)[0] == "ok"


def test_the_internal_list_stops_every_kind_even_healthcare(store: Store,
                                                           tmp_path: Path) -> None:
    facts = StoreDialFacts.of(store, tmp_path)
    assert _decide(facts, MessageKind.HEALTHCARE_REMINDER)[0] == "ok"
    store.dnc.add(NEW_YORK, source="opt_out_dtmf", actor="call 4", reason="pressed 9")
    store.dnc.add_consent(NEW_YORK, "express_written", source="web", evidence="form 1")
    for kind in MessageKind:
        assert _decide(facts, kind)[:2] == ("internal_dnc", "dnc.internal")
    store.dnc.remove(NEW_YORK, source="api", actor="ann", reason="asked to be called again")
    assert _decide(facts, MessageKind.HEALTHCARE_REMINDER)[0] == "ok"


def test_no_snapshot_or_a_stale_one_stops_telemarketing(store: Store, tmp_path: Path) -> None:
    store.dnc.add_consent(NEW_YORK, "express_written", source="web", evidence="form 2")
    facts = StoreDialFacts.of(store, tmp_path)
    assert facts.registry is None and facts.national_dnc_snapshot_date() is None
    assert _decide(facts, MessageKind.TELEMARKETING)[1] == "dnc.national.snapshot_missing"
    # TUESDAY_1500Z is 2026-01-13: a snapshot of 2025-12-13 is 31 days old, still good.
    _snapshot(tmp_path, date(2025, 12, 13))
    assert _decide(StoreDialFacts.of(store, tmp_path), MessageKind.TELEMARKETING)[0] == "ok"
    assert _decide(StoreDialFacts.of(store, tmp_path), MessageKind.TELEMARKETING,
                   TUESDAY_1500Z + timedelta(days=1))[1] == "dnc.national.snapshot_stale"
    # Healthcare reminders do not depend on the registry.
    assert _decide(StoreDialFacts.of(store, tmp_path), MessageKind.HEALTHCARE_REMINDER,
                   TUESDAY_1500Z + timedelta(days=1))[0] == "ok"


def test_facts_keep_the_snapshot_they_were_built_with(store: Store, tmp_path: Path) -> None:
    _snapshot(tmp_path, date(2026, 1, 1), 2125550100)
    facts = StoreDialFacts.of(store, tmp_path)
    _snapshot(tmp_path, date(2026, 1, 10))
    assert facts.national_dnc_snapshot_date() == date(2026, 1, 1)
    assert facts.on_national_dnc(NEW_YORK)
    fresh = StoreDialFacts.of(store, tmp_path)
    assert fresh.national_dnc_snapshot_date() == date(2026, 1, 10)
    assert not fresh.on_national_dnc(NEW_YORK)


def test_a_malformed_number_is_on_no_list_and_refused_by_the_rules(store: Store,
                                                                  tmp_path: Path) -> None:
    facts = StoreDialFacts.of(store, tmp_path)
    assert not facts.on_internal_dnc("212-555-0100")
    assert facts.consent("212-555-0100", "c1") is Consent.NONE
    assert facts.recent_attempts(NEW_YORK, "c1", MessageKind.TELEMARKETING, T0) == ()
    assert facts.address_state(NEW_YORK, "c1") is None
    assert _decide(facts, MessageKind.HEALTHCARE_REMINDER,
                   number="212-555-0100")[:2] == ("invalid_number", "number.e164")
