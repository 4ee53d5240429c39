"""Admission of new calls and the tally of refusals: pure logic, a fake clock."""

from __future__ import annotations

from callcenter.core.settings import load_settings
from sip.admission import Admission, AdmissionPolicy, Refused, parse_networks
from sip.call_gate import address_host
from sip.refusals import OTHER, RefusalTally


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def policy(**overrides: object) -> AdmissionPolicy:
    values: dict[str, object] = {"capacity": 4, "reserved": 0, "rate": 0.0, "burst": 1,
                                 "per_source_calls": 0}
    values.update(overrides)
    return AdmissionPolicy(**values)  # type: ignore[arg-type]


def test_policy_from_settings_clamps_reserved_and_halves_per_source() -> None:
    settings = load_settings(environ={}, overrides={"sip.reserved_slots": 9}).sip
    resolved = AdmissionPolicy.from_settings(settings, capacity=4)
    assert (resolved.reserved, resolved.caller_slots) == (3, 1)  # at most capacity - 1
    assert resolved.per_source_calls == 1
    dense = AdmissionPolicy.from_settings(
        load_settings(environ={}, overrides={"sip.reserved_slots": 24}).sip, capacity=1024)
    assert (dense.caller_slots, dense.per_source_calls) == (1000, 500)
    assert dense.rate == 10 and dense.burst == 20
    assert [str(n) for n in dense.trusted] == ["127.0.0.1/32", "::1/128"]


def test_starting_and_draining_refuse_everything() -> None:
    admission = Admission(policy())
    admission.accepting = False
    assert admission.invite("10.0.0.1", "100", 0, 0) is Refused.STARTING
    assert admission.options(0) is Refused.STARTING
    admission.accepting = True
    assert admission.invite("10.0.0.1", "100", 0, 0) is None
    assert admission.options(0) is None
    admission.draining = True
    assert admission.invite("10.0.0.1", "100", 0, 0) is Refused.DRAINING
    assert admission.options(0) is Refused.DRAINING


def test_capacity_and_reserved_slots() -> None:
    admission = Admission(policy(capacity=4, reserved=1,
                                 reserved_numbers=frozenset({"agent"})))
    assert admission.invite(None, "100", 2, 0) is None
    assert admission.invite(None, "100", 3, 0) is Refused.RESERVED
    assert admission.invite(None, "agent", 3, 0) is None  # may take the reserved slot
    assert admission.invite(None, "agent", 4, 0) is Refused.FULL
    assert admission.options(2) is None
    assert admission.options(3) is Refused.RESERVED  # no slot left for a caller
    assert admission.options(4) is Refused.FULL


def test_rate_limit_is_a_token_bucket_per_source() -> None:
    clock = Clock()
    admission = Admission(policy(rate=2.0, burst=3, capacity=100), clock)
    verdicts = [admission.invite("10.0.0.1", "100", 0, 0) for _ in range(5)]
    assert verdicts == [None, None, None, Refused.RATE, Refused.RATE]
    assert admission.invite("10.0.0.2", "100", 0, 0) is None  # another source
    clock.now += 0.5  # one token back
    assert admission.invite("10.0.0.1", "100", 0, 0) is None
    assert admission.invite("10.0.0.1", "100", 0, 0) is Refused.RATE
    clock.now += 60  # refilled to the burst, not beyond
    assert [admission.invite("10.0.0.1", "100", 0, 0) for _ in range(4)] == [
        None, None, None, Refused.RATE]


def test_concurrent_calls_per_source() -> None:
    admission = Admission(policy(per_source_calls=2))
    assert admission.invite("10.0.0.1", "100", 1, 1) is None
    assert admission.invite("10.0.0.1", "100", 2, 2) is Refused.SOURCE_CALLS
    assert admission.invite("10.0.0.2", "100", 2, 0) is None


def test_trusted_sources_and_unknown_sources_skip_source_limits() -> None:
    trusted = parse_networks(["10.1.0.0/16", "::1"])
    admission = Admission(policy(per_source_calls=1, rate=1.0, burst=1, trusted=trusted))
    for _ in range(3):
        assert admission.invite("10.1.2.3", "100", 1, 3) is None
        assert admission.invite("::1", "100", 1, 3) is None
        assert admission.invite(None, "100", 1, 3) is None
    assert admission.invite("10.2.0.1", "100", 1, 1) is Refused.SOURCE_CALLS
    assert admission.is_trusted("not-an-address") is False


def test_bucket_table_stays_bounded_under_spoofed_sources() -> None:
    clock = Clock()
    admission = Admission(policy(rate=1.0, burst=2, capacity=10), clock)
    for i in range(20000):
        admission.invite(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "100", 0, 0)
    assert len(admission._buckets) <= 4096


def test_tally_journals_a_quota_per_source_and_counts_the_rest() -> None:
    tally = RefusalTally(per_source_per_s=2)
    asked: list[str] = []

    def details(n: int) -> tuple[str, str, str]:
        asked.append(str(n))
        return f"sip:c{n}@x", "sip:100@node", f"id{n}"

    for n in range(5):
        tally.add("10.0.0.1", "rate", 503, lambda n=n: details(n))  # type: ignore[misc]
    tally.add("10.0.0.2", "full", 503, lambda: details(9))
    batch = tally.take()
    assert batch is not None
    assert [(r.source, r.sip_call_id) for r in batch.refusals] == [
        ("10.0.0.1", "id0"), ("10.0.0.1", "id1"), ("10.0.0.2", "id9")]
    assert asked == ["0", "1", "9"]  # details only read for journaled refusals
    assert [(c.source, c.reason, c.count) for c in batch.counts] == [("10.0.0.1", "rate", 3)]
    assert tally.by_reason() == {"rate": 5, "full": 1}
    assert tally.by_source() == {"10.0.0.1": 5, "10.0.0.2": 1}
    assert tally.take() is None  # a new interval: nothing since
    tally.add("10.0.0.1", "rate", 503)
    again = tally.take()
    assert again is not None and len(again.refusals) == 1  # the quota is per interval


def test_tally_bounds_sources_and_aggregates() -> None:
    tally = RefusalTally(per_source_per_s=0)  # journal counts only
    for i in range(1500):
        tally.add(f"10.0.{i // 256}.{i % 256}", "rate", 503)
    assert len(tally.by_source(top=5000)) == 1001  # 1000 sources, then OTHER
    batch = tally.take()
    assert batch is not None and not batch.refusals
    assert len(batch.counts) <= 51
    assert sum(c.count for c in batch.counts) == 1500
    assert any(c.source == OTHER for c in batch.counts)


def test_address_host() -> None:
    assert address_host("127.0.0.2:5061") == "127.0.0.2"
    assert address_host("[::1]:5061") == "::1"
    assert address_host("::1") == "::1"
