"""What a campaign call says to whoever answers before its flow, and when it was late.

Built, like the machine message (`outbound.voicemail_message`), from the
campaign's facts (``Campaign.call_facts``: business name, call-back number)
and the contact's name, so every node says the same:

- `identification`, spoken the moment the callee answers (rendered while
  the phone rings), while the answering-machine detector still listens:
  `hello` naming the business (the same words in every call of the
  campaign, so the voice's cache has them ready), then whom it calls for;
- `opt_out_offer`, once a person is heard: press 9 or say stop, at any
  time, and the number to call back;
- `opt_out_confirmation`, after an opt-out, before the engine hangs up.

`is_abandoned` is the rule of issue 9: a live answer that the engine does
not greet within ``ABANDON_AFTER_S`` counts as abandoned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outbound.voicemail_message import spoken_number

#: A live answer not greeted within this many seconds is an abandoned call.
ABANDON_AFTER_S = 2.0


def hello(business_name: str) -> str:
    """ "Hello, this is Riverside Clinic." """
    return f"Hello, this is {business_name}."


def identification(contact: Mapping[str, Any]) -> str:
    """ "Hello, this is Riverside Clinic. I'm calling for Maria Lopez." """
    name = str(contact.get("name") or "").strip()
    to = f" I'm calling for {name}." if name else ""
    return hello(contact["business_name"]) + to


def opt_out_offer(contact: Mapping[str, Any], key: str) -> str:
    """The opt-out by ``key`` (`dialog.opt_out.OPT_OUT_KEY`) or by voice, offered
    at once, and the number to call back."""
    return (f"If you would rather not get these calls, press {key} or say stop, "
            f"at any time. You can reach us at {spoken_number(contact['callback_number'])}.")


def opt_out_confirmation(contact: Mapping[str, Any]) -> str:
    """Said after an opt-out (the number is on the do-not-call list by then)."""
    return (f"Understood. {contact['business_name']} will not call this number again. "
            f"Goodbye.")


def is_abandoned(greeted_after_s: float | None, lasted_s: float) -> bool:
    """Whether a live answer was abandoned: greeted ``greeted_after_s`` after the
    answer (None: never), the call having lasted ``lasted_s``. A callee who
    hung up before the limit without a greeting was not yet kept waiting too long."""
    if greeted_after_s is not None:
        return greeted_after_s > ABANDON_AFTER_S
    return lasted_s > ABANDON_AFTER_S
