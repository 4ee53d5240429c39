"""Live people on campaign calls, over loopback: three phones answer an engine's
reminder campaigns with a short real "yes" (the answering-machine screen takes
them for people), hear the engine's identification within 2 s of their
answer, then

- one presses 9 during the opt-out offer (a prompt that allows no barge-in),
- one says a real recorded "stop",
- one presses 1 (confirm) until the call ends.

The first two end ``opted_out`` with their numbers on the internal DNC list
(``opt_out_dtmf`` / ``opt_out_voice``) written before the engine's BYE
reached them, and are never dialled again although their campaign's retry
policy would; the third ends ``answered`` with the result ``confirmed``.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.callcenter.test_campaign_calls import CALLER_ID, _campaign, _cli
from tests.callcenter.test_campaign_machines import _clips, _finished, _loud_from, _silence
from tests.support.audio import read_wav, write_wav
from tests.support.phone import Phone
from tests.support.processes import EngineProcess
from tests.support.shared_data import shared_path
from tests.support.sipp import free_port

pytestmark = pytest.mark.e2e

KEY, VOICE, CONFIRM = "+12125550161", "+12125550162", "+12125550163"


def _person_wav(path: Path, *then: np.ndarray) -> Path:
    """A short "yes" at the answer, then silence, then ``then``."""
    return write_wav(path, np.concatenate([_silence(0.4), _clips("word")[0], _silence(1.0),
                                           *then]))


def _stop_wav(path: Path) -> Path:
    """ "yes", then a real "stop" 5 s into the call (during the opt-out offer)."""
    with (shared_path("real-speech-en") / "manifest.tsv").open(newline="",
                                                               encoding="utf-8") as f:
        slots = [row["slot"] for row in csv.DictReader(f, delimiter="\t")
                 if row["kind"] == "word"]
    stop = next(clip for clip, slot in zip(_clips("word"), slots, strict=True)
                if slot == "stop")
    return _person_wav(path, _silence(3.0), stop, _silence(1.0))


def _contacts(path: Path, numbers: list[str]) -> Path:
    given = date.today() - timedelta(days=10)
    path.write_text("number,name,consent_kind,consent_date,appointment\n" + "".join(
        f"{n},Maria Lopez,express,{given},2026-03-14 10:30\n" for n in numbers))
    return path


async def test_people_opt_out_by_key_and_by_voice_and_confirm(tmp_path: Path) -> None:
    phones = {
        KEY: Phone(free_port(), "answer", "--wav", str(_person_wav(tmp_path / "key.wav")),
                   "--record", str(tmp_path / "key-heard.wav"), "--dtmf", "9",
                   "--dtmf-at", "5", "--hold", "40", "--lifetime", "150"),
        VOICE: Phone(free_port(), "answer", "--wav", str(_stop_wav(tmp_path / "stop.wav")),
                     "--record", str(tmp_path / "voice-heard.wav"), "--hold", "40",
                     "--lifetime", "150"),
        CONFIRM: Phone(free_port(), "answer", "--wav",
                       str(_person_wav(tmp_path / "confirm.wav")), "--record",
                       str(tmp_path / "confirm-heard.wav"), "--dtmf", "1", "--dtmf-at", "12",
                       "--dtmf-every", "3", "--hold", "60", "--lifetime", "150"),
    }
    names = {KEY: "key", VOICE: "voice", CONFIRM: "confirm"}
    clock = datetime.combine(datetime.now(UTC).date() + timedelta(days=1),
                             datetime.min.time(), UTC) + timedelta(hours=15)
    trunks = [{"name": names[n], "registrar": f"sip:127.0.0.1:{phone.port}",
               "register": False, "caller_id": CALLER_ID} for n, phone in phones.items()]
    engine = EngineProcess(tmp_path / "engine", {
        "sip": {"trunks": trunks}, "engine": {"flow": "clinic", "max_call_s": 60},
        "outbound": {"poll_s": 0.2, "clock_start": clock.isoformat()}})
    for number, name in names.items():
        _cli(engine, "campaign", "create", str(_campaign(
            tmp_path / f"{name}.yaml", f"e2e-{name}", name, flow="reminder",
            message_kind="informational", contact_fields=["appointment"])))
        _cli(engine, "campaign", "import", f"e2e-{name}",
             str(_contacts(tmp_path / f"{name}.csv", [number])))
    store = engine.store()
    try:
        for phone in phones.values():
            phone.wait_ready()
        engine.start(timeout=120)
        for name in names.values():
            _cli(engine, "campaign", "start", f"e2e-{name}")
        for name in names.values():
            await _finished(store, f"e2e-{name}")
        results = {n: phones[n].result(timeout=60)[0] for n in phones}
        # A later campaign with the same two numbers: the dialing rules refuse both.
        _cli(engine, "campaign", "create", str(_campaign(
            tmp_path / "again.yaml", "e2e-again", "key", flow="reminder",
            contact_fields=["appointment"])))
        _cli(engine, "campaign", "import", "e2e-again",
             str(_contacts(tmp_path / "again.csv", [KEY, VOICE])))
        _cli(engine, "campaign", "start", "e2e-again")
        await _finished(store, "e2e-again", timeout=30)
        assert {(a.number, a.outcome, a.reason) for a in store.campaigns.attempts(
            "e2e-again")} == {(KEY, "blocked", "internal_dnc"),
                              (VOICE, "blocked", "internal_dnc")}, engine.log[-3000:]

        for number, source in ((KEY, "opt_out_dtmf"), (VOICE, "opt_out_voice")):
            name = names[number]
            (attempt,) = store.campaigns.attempts(f"e2e-{name}")
            assert (attempt.outcome, attempt.reason, attempt.result) == (
                "opted_out", source, "opted_out"), (attempt, engine.log[-4000:])
            entry = store.dnc.entry(number)
            assert entry is not None and entry.source == source, entry
            heard = results[number]
            assert heard["ended_by"] == "remote", heard
            # On the list before the BYE reached the callee (one machine, one clock).
            assert entry.added_at.timestamp() < heard["ended_at"], (entry, heard)
            _greeted_in_time(attempt, tmp_path / f"{name}-heard.wav")
        key_heard = results[KEY]
        assert key_heard["ended_at"] - key_heard["dtmf_sent_at"] < 15, key_heard

        (confirmed,) = store.campaigns.attempts("e2e-confirm")
        assert (confirmed.outcome, confirmed.result) == ("answered", "confirmed"), (
            confirmed, engine.log[-4000:])
        assert store.dnc.entry(CONFIRM) is None
        _greeted_in_time(confirmed, tmp_path / "confirm-heard.wav")
        (contact,) = store.campaigns.contacts("e2e-key")
        assert (contact.result, contact.result_detail) == ("opted_out", "key 9"), contact
    finally:
        store.close()
        engine.stop()
        (tmp_path / "engine.log").write_text(engine.log)
        for phone in phones.values():
            phone.kill()


def _greeted_in_time(attempt: Any, recording: Path) -> None:
    """The engine's first words reached the callee within 2 s of the answer."""
    assert attempt.greeted_at is not None and attempt.abandoned is False, attempt
    assert attempt.dialed_at <= attempt.greeted_at <= attempt.dialed_at + timedelta(seconds=5)
    heard, rate = read_wav(recording)
    start, _ = _loud_from(heard, rate)
    assert start <= 2.0, (recording.name, start)
