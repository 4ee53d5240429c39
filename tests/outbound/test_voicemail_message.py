"""The message left on answering machines: who, why, the call-back number; no
health details; a healthcare campaign whose message could pass 60 s is refused
when it is created."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config import CONFIG_DIR
from outbound.campaign_spec import CampaignSpec
from outbound.voicemail_message import (
    MAX_HEALTHCARE_S,
    check_length,
    estimated_s,
    spoken_number,
    text_for_call,
    voicemail_text,
)


def test_the_message_identifies_states_the_purpose_and_gives_the_number_twice() -> None:
    text = voicemail_text("Riverside Clinic", "+12025550100", "healthcare_reminder", "Ana Diaz")
    assert text.startswith("Hello, this is Riverside Clinic. ")
    assert "for Ana Diaz with a reminder about an upcoming appointment" in text
    assert text.count("202-555-0100") == 2
    assert estimated_s(text) <= MAX_HEALTHCARE_S


def test_a_healthcare_message_names_no_appointment_details() -> None:
    contact: dict[str, Any] = {"business_name": "Riverside Clinic",
                               "callback_number": "+12025550100",
                               "message_kind": "healthcare_reminder", "name": "Ana Diaz",
                               "appointment": "2026-01-20 09:30 oncology"}
    text = text_for_call(contact)
    assert "oncology" not in text and "09:30" not in text and "2026" not in text


def test_each_kind_has_its_purpose_and_a_nameless_contact_reads_well() -> None:
    texts = {kind: voicemail_text("Acme", "+12025550100", kind)
             for kind in ("healthcare_reminder", "informational", "telemarketing")}
    assert len(set(texts.values())) == 3
    assert "We are calling with some information for you." in texts["informational"]
    assert spoken_number("+442079460958") == "+44 20 7946 0958"


def test_a_healthcare_message_over_a_minute_is_refused_with_the_reason() -> None:
    check_length("Riverside Clinic", "+12025550100", "healthcare_reminder")
    long_name = " ".join(["Riverside"] * 120)
    with pytest.raises(ValueError, match=r"about \d+ s; a healthcare message may last at most 60"):
        check_length(long_name, "+12025550100", "healthcare_reminder")
    check_length(long_name, "+12025550100", "informational")  # only healthcare is capped


def test_the_campaign_file_runs_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = yaml.safe_load((CONFIG_DIR / "campaigns" / "reminders.yaml").read_text())
    CampaignSpec.model_validate(spec)
    monkeypatch.setattr("outbound.voicemail_message.MAX_HEALTHCARE_S", 5.0)
    with pytest.raises(ValidationError, match="a healthcare message may last at most 5 s"):
        CampaignSpec.model_validate(spec)
