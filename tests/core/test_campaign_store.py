"""The campaign tables on SQLite and PostgreSQL: imports all or nothing, attempts
claimed once across claimers, and the attempt lifecycle (defer, release, finish
with a retry or a final result, crash leftovers)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from callcenter.core.errors import StoreError
from callcenter.core.store import ContactInput, Store

T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
NUMBERS = [f"+1212555{n:04d}" for n in range(100, 140)]


def campaign_values(**changes: Any) -> dict[str, Any]:
    """A complete campaign definition, as `callcenter campaign create` stores it."""
    values: dict[str, Any] = {
        "flow": "clinic", "message_kind": "healthcare_reminder", "caller_id": "+12025550100",
        "trunk": "provider", "business_name": "Riverside Clinic",
        "callback_number": "+12025550100", "max_concurrent": 2, "calls_per_s": 1.0,
        "ring_timeout_s": 25.0, "retry": {"busy": {"delays_s": [600], "max_attempts": 3}},
        "active_from": date(2026, 1, 1), "active_until": date(2026, 12, 31),
        "time_zone": "America/New_York", "contact_fields": ["appointment"], "source": "t.yaml"}
    values.update(changes)
    return values


def _campaign(store: Store, name: str = "c1", contacts: int = 3, *, running: bool = True,
              **changes: Any) -> list[str]:
    store.campaigns.put_campaign(name, campaign_values(**changes), T0)
    numbers = NUMBERS[:contacts]
    store.campaigns.import_contacts(
        name, [ContactInput(n, i + 2, name=f"P{i}", fields={"appointment": "10:30"})
               for i, n in enumerate(numbers)], at=T0, first_due=T0, evidence="c.csv")
    if running:
        store.campaigns.set_state(name, "running", T0)
    return numbers


def test_put_campaign_creates_then_updates_keeping_its_state(store: Store) -> None:
    tables = store.campaigns
    assert tables.put_campaign("c1", campaign_values(), T0)
    tables.set_state("c1", "running", T0)
    assert not tables.put_campaign("c1", campaign_values(max_concurrent=5), T0)
    record = tables.campaign("c1")
    assert record is not None and (record.state, record.max_concurrent) == ("running", 5)
    assert record.active_from == date(2026, 1, 1) and record.retry["busy"]["max_attempts"] == 3
    with pytest.raises(StoreError, match="no campaign named 'nope'"):
        tables.set_state("nope", "running", T0)


def test_import_is_all_or_nothing_and_brings_consents(store: Store) -> None:
    tables = store.campaigns
    tables.put_campaign("c1", campaign_values(), T0)
    given = datetime(2025, 12, 1, tzinfo=UTC)
    contacts = [ContactInput(NUMBERS[0], 2, consent_kind="express", consent_date=given),
                ContactInput(NUMBERS[1], 3, address_state="FL")]
    assert tables.import_contacts("c1", contacts, at=T0, first_due=T0, evidence="a.csv") == 2
    assert store.dnc.strongest_consent(NUMBERS[0], "c1") == "express"
    assert store.dnc.consents(NUMBERS[0])[0].evidence == "a.csv, row 2"
    assert tables.address_state(NUMBERS[1], "c1") == "FL"
    # A number already in the campaign: the whole second import is refused.
    again = [ContactInput(NUMBERS[2], 2), ContactInput(NUMBERS[1], 3)]
    with pytest.raises(StoreError):
        tables.import_contacts("c1", again, at=T0, first_due=T0, evidence="b.csv")
    assert set(tables.numbers("c1")) == {NUMBERS[0], NUMBERS[1]}
    assert tables.counts("c1")["pending"] == 2


def test_claims_respect_due_time_state_and_in_flight_limit(store: Store) -> None:
    tables = store.campaigns
    _campaign(store, contacts=3, running=False)
    assert tables.claim_due("c1", T0, node="n1", limit=5, max_in_flight=2) == []  # not running
    tables.set_state("c1", "running", T0)
    assert tables.claim_due("c1", T0 - timedelta(seconds=1), node="n1", limit=5,
                            max_in_flight=2) == []  # nothing due yet
    first = tables.claim_due("c1", T0, node="n1", limit=5, max_in_flight=2)
    assert len(first) == 2 and {a.node for a in first} == {"n1"}
    assert first[0].fields == {"appointment": "10:30"} and first[0].contact_name == "P0"
    assert tables.claim_due("c1", T0, node="n2", limit=5, max_in_flight=2) == []
    tables.finish(first[0].id, "answered", T0)
    [third] = tables.claim_due("c1", T0, node="n2", limit=5, max_in_flight=2)
    assert third.id not in {a.id for a in first}


def test_two_claimers_never_get_the_same_attempt(store: Store) -> None:
    _campaign(store, contacts=40)
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer(node: str) -> None:
        start.wait()
        while True:
            got = store.campaigns.claim_due("c1", T0, node=node, limit=3, max_in_flight=100)
            if not got:
                return
            with lock:
                claimed.extend(a.id for a in got)

    threads = [threading.Thread(target=claimer, args=(f"n{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_finish_schedules_the_retry_or_gives_the_contact_its_result(store: Store) -> None:
    tables = store.campaigns
    [number] = _campaign(store, contacts=1)
    [a1] = tables.claim_due("c1", T0, node="n1", limit=1, max_in_flight=1)
    tables.mark_dialing(a1.id, T0, {"reason": "ok"})
    a2 = tables.finish(a1.id, "busy", T0 + timedelta(seconds=5), sip_code=486,
                       retry_at=T0 + timedelta(minutes=10))
    assert a2 is not None and (a2.attempt_no, a2.next_due) == (2, T0 + timedelta(minutes=10))
    with pytest.raises(StoreError, match="already ended"):
        tables.finish(a1.id, "busy", T0)
    assert tables.claim_due("c1", T0 + timedelta(minutes=9), node="n1", limit=1,
                            max_in_flight=1) == []
    [again] = tables.claim_due("c1", T0 + timedelta(minutes=10), node="n1", limit=1,
                               max_in_flight=1)
    assert again.id == a2.id
    tables.mark_dialing(again.id, T0 + timedelta(minutes=10), {"reason": "ok"})
    assert tables.finish(again.id, "answered", T0 + timedelta(minutes=11), sip_code=200) is None
    counts = tables.counts("c1")
    assert (counts["busy"], counts["answered"], counts["pending"], counts["in_flight"]) == (
        1, 1, 0, 0)
    assert tables.dial_times(number, T0 - timedelta(days=1)) == [
        T0, T0 + timedelta(minutes=10)]
    assert tables.dial_times(number, T0, message_kind="telemarketing") == []


def test_defer_and_release_hand_attempts_back(store: Store) -> None:
    tables = store.campaigns
    _campaign(store, contacts=2)
    a, b = tables.claim_due("c1", T0, node="n1", limit=2, max_in_flight=2)
    tables.defer(a.id, T0 + timedelta(hours=3), {"reason": "calling_hours"})
    tables.release(b.id)
    [again] = tables.claim_due("c1", T0, node="n2", limit=2, max_in_flight=2)
    assert again.id == b.id and again.node == "n2"
    later = tables.claim_due("c1", T0 + timedelta(hours=3), node="n2", limit=2,
                             max_in_flight=2)
    assert [x.id for x in later] == [a.id] and later[0].deferrals == 1
    assert tables.dial_times(a.number, T0 - timedelta(days=1)) == []


def test_unfinished_lists_what_a_node_held(store: Store) -> None:
    tables = store.campaigns
    _campaign(store, contacts=3)
    held = tables.claim_due("c1", T0, node="dead", limit=2, max_in_flight=3)
    tables.mark_dialing(held[0].id, T0, {"reason": "ok"})
    left = tables.unfinished("dead")
    assert [(x.id, x.dialed_at) for x in left] == [(held[0].id, T0), (held[1].id, None)]
    assert tables.unfinished("other") == []


def test_expire_open_closes_what_is_left(store: Store) -> None:
    tables = store.campaigns
    _campaign(store, contacts=3)
    [busy] = tables.claim_due("c1", T0, node="n1", limit=1, max_in_flight=1)
    assert tables.expire_open("c1", T0) == 2
    assert tables.counts("c1")["expired"] == 2 and tables.counts("c1")["in_flight"] == 1
    assert tables.next_due("c1") is None
    tables.finish(busy.id, "answered", T0)


def test_a_live_answer_keeps_its_result_and_greeting(store: Store) -> None:
    tables = store.campaigns
    numbers = _campaign(store, contacts=2)
    first, second = tables.claim_due("c1", T0, node="n1", limit=2, max_in_flight=2)
    assert (first.result, first.result_detail, first.greeted_at, first.abandoned) == (
        None, None, None, None)
    for attempt in (first, second):
        tables.mark_dialing(attempt.id, T0, {"reason": "ok"})
    greeted = T0 + timedelta(seconds=6, milliseconds=400)
    assert tables.finish(first.id, "answered", T0 + timedelta(seconds=40), sip_code=200,
                         result="rescheduled", result_detail="2026-01-20T10:30:00-05:00",
                         greeted_at=greeted, abandoned=False) is None
    tables.finish(second.id, "opted_out", T0 + timedelta(seconds=9), sip_code=200,
                  reason="opt_out_dtmf", result="opted_out", greeted_at=greeted,
                  abandoned=True)
    done = {a.number: a for a in tables.attempts("c1")}
    assert (done[numbers[0]].result, done[numbers[0]].result_detail) == (
        "rescheduled", "2026-01-20T10:30:00-05:00")
    assert (done[numbers[0]].greeted_at, done[numbers[0]].abandoned) == (greeted, False)
    assert (done[numbers[1]].outcome, done[numbers[1]].result, done[numbers[1]].abandoned) == (
        "opted_out", "opted_out", True)
    contacts = {c.number: c for c in tables.contacts("c1")}
    assert (contacts[numbers[0]].result, contacts[numbers[0]].result_detail) == (
        "rescheduled", "2026-01-20T10:30:00-05:00")
    assert (contacts[numbers[1]].result, contacts[numbers[1]].result_detail) == (
        "opted_out", "opt_out_dtmf")
    assert tables.counts("c1")["opted_out"] == 1
