"""What a campaign call says around its flow, and the abandoned-call rule at its edge."""

from __future__ import annotations

import pytest

from outbound.call_opening import (
    ABANDON_AFTER_S,
    identification,
    is_abandoned,
    opt_out_confirmation,
    opt_out_offer,
)

CONTACT = {"business_name": "Riverside Clinic", "callback_number": "+12025550100",
           "message_kind": "healthcare_reminder", "name": "Maria Lopez"}


def test_the_identification_names_the_business_and_the_callee() -> None:
    assert identification(CONTACT) == (
        "Hello, this is Riverside Clinic. I'm calling for Maria Lopez.")
    assert identification({**CONTACT, "name": "  "}) == "Hello, this is Riverside Clinic."
    assert identification({**CONTACT, "name": None}) == "Hello, this is Riverside Clinic."


def test_the_offer_names_the_key_the_word_and_the_call_back_number() -> None:
    offer = opt_out_offer(CONTACT, "9")
    assert "press 9 or say stop" in offer and "202-555-0100" in offer
    assert "Riverside Clinic will not call this number again" in opt_out_confirmation(CONTACT)


@pytest.mark.parametrize(("greeted_after_s", "lasted_s", "abandoned"), [
    (0.3, 30.0, False),
    (ABANDON_AFTER_S, 30.0, False),  # 2 s exactly is within 2 s
    (ABANDON_AFTER_S + 0.01, 30.0, True),
    (None, 1.5, False),  # hung up before we were late: not abandoned (yet)
    (None, ABANDON_AFTER_S + 0.5, True),  # never greeted
])
def test_a_live_answer_greeted_after_2_s_is_abandoned(greeted_after_s: float | None,
                                                        lasted_s: float,
                                                        abandoned: bool) -> None:
    assert is_abandoned(greeted_after_s, lasted_s) is abandoned
