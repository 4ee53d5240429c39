"""Numbers as the do-not-call lists and consent records keep them: E.164.

``normalize_number`` accepts what people type and lists hold (``+1 (202)
555-0123``, ``2025550123``, the FTC's ``202,5550123``; numbers without a
country code are US numbers) and returns E.164 (``+12025550123``), or
raises ``DncNumberError`` saying why not.

It is deliberately more lenient than the dialing rules (``compliance.numbers``):
a list that stops calls must take any number that could be real, even one
libphonenumber's data does not know yet, so a number needs only to be
possible (the right length for its country) and, in the NANP, shaped like a
NANP number (area code and exchange starting with 2-9).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import phonenumbers

from callcenter.core.errors import CallCenterError

_FTC_VARIANT = re.compile(r"\s*(\d{3}),(\d{7})\s*")
_NANP_SHAPE = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


class DncNumberError(CallCenterError, ValueError):
    """A number that cannot be put on a list: not a phone number, or not possible."""


def normalize_number(text: str, default_region: str = "US") -> str:
    """``text`` as E.164; numbers without ``+`` are of ``default_region``."""
    variant = _FTC_VARIANT.fullmatch(text)
    candidate = variant[1] + variant[2] if variant else text
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        raise DncNumberError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise DncNumberError(f"{text!r} is not a possible phone number (wrong length)")
    national = str(parsed.national_number)
    if parsed.country_code == 1 and not _NANP_SHAPE.fullmatch(national):
        raise DncNumberError(f"{text!r} is not a NANP number: area code and exchange "
                             "must start with 2-9")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def read_number_file(path: Path) -> list[str]:
    """Every number of a list file (one a line, blank lines skipped), as E.164.

    Raises ``DncNumberError`` naming the first bad line; ``OSError`` if the
    file cannot be read.
    """
    return [number for _, number in _numbered(path)]


def _numbered(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8-sig") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield line_number, normalize_number(line.strip())
            except DncNumberError as exc:
                raise DncNumberError(f"{path}, line {line_number}: {exc}") from None
