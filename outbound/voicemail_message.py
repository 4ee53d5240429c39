"""The message a campaign leaves on an answering machine.

Built from what the store holds of the campaign (``Campaign.call_facts``:
business name, call-back number, message kind) and the contact's name, so
every node leaves the same message: who calls (identification), why
(purpose, by message kind), and the number to call back, said twice.

It says no more than that. A healthcare reminder on a machine names no
appointment, date or clinic department: anyone in the household may play
the tape, so the details wait for the call back (the live flow gives them
to the person once they answer).

A healthcare message may last at most ``MAX_HEALTHCARE_S`` (issue 9). The
text is checked when the campaign is created (`check_length`, from a
word-count estimate at a slow speaking rate) and the rendered audio is cut
there at play time should a voice be slower still.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers

from compliance.dial_case import MessageKind

#: The longest a healthcare message may last on a machine, in seconds.
MAX_HEALTHCARE_S = 60.0
#: Words per second of a slow synthetic voice (Piper's medium voices say 2.5 to 3).
SLOW_WORDS_PER_S = 2.0

_PURPOSE = {
    MessageKind.HEALTHCARE_REMINDER: "with a reminder about an upcoming appointment",
    MessageKind.INFORMATIONAL: "with some information for you",
    MessageKind.TELEMARKETING: "about an offer for you",
}


def spoken_number(e164: str) -> str:
    """A North American number as ``202-555-0100`` (the voice reads it digit by
    digit); others in their international format."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        digits = phonenumbers.national_significant_number(number)
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def voicemail_text(business_name: str, callback_number: str, message_kind: MessageKind | str,
                   name: str | None = None) -> str:
    """The message: identification, purpose, call-back number (twice)."""
    kind = MessageKind(message_kind)
    number = spoken_number(callback_number)
    to = f" for {name.strip()}" if name and name.strip() else ""
    # A short first sentence: the voice renders it in a moment, so the message
    # starts right after the beep while the rest is still being rendered.
    return (f"Hello, this is {business_name}. We are calling{to} {_PURPOSE[kind]}. "
            f"Please call us back at {number}. Again, that number is {number}. "
            f"Thank you, and goodbye.")


def text_for_call(contact: Mapping[str, Any]) -> str:
    """The message for one campaign call, from its contact mapping (the
    campaign's facts, ``Campaign.call_facts``, and the contact's ``name``)."""
    return voicemail_text(contact["business_name"], contact["callback_number"],
                          contact["message_kind"], contact.get("name"))


def estimated_s(text: str) -> float:
    """A generous estimate of how long ``text`` takes to say (digits are said
    one by one)."""
    return len(re.findall(r"[^\W\d]+|\d", text)) / SLOW_WORDS_PER_S


def check_length(business_name: str, callback_number: str,
                 message_kind: MessageKind | str) -> None:
    """Raise ValueError if a healthcare campaign's machine message could last more
    than ``MAX_HEALTHCARE_S`` (with the longest contact name a CSV may give,
    estimated at 8 words)."""
    if MessageKind(message_kind) is not MessageKind.HEALTHCARE_REMINDER:
        return
    text = voicemail_text(business_name, callback_number, message_kind, " ".join(["name"] * 8))
    seconds = estimated_s(text)
    if seconds > MAX_HEALTHCARE_S:
        raise ValueError(
            f"the answering-machine message would last about {seconds:.0f} s; a healthcare "
            f"message may last at most {MAX_HEALTHCARE_S:.0f} s: shorten business_name")
