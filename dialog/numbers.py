"""Spoken numbers and digit strings, as a recognizer writes them.

Recognizers write numbers both ways ("twenty five", "25", "5th", "2:30"), so
every parser here works on `tokenize`'s output, where words are lower case and
digit groups stay whole. Pure functions, no I/O:

    parse_number("about twenty five")          -> 25
    parse_number("one hundred and twelve")     -> 112
    parse_digits("five five oh double one")    -> "55011"
    parse_digit_answer("it's worth eight dollars") -> None   (a sentence, not digits)
    number_at(tokenize("the twenty first"), 1) -> NumberSpan(21, 1, 3, ordinal=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
         "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
SCALES = {"thousand": 1000, "million": 1_000_000}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
# Zero as people say it inside a digit string ("five oh one"), never in a number.
DIGIT_ZERO = {"oh", "o", "zero", "nought"}
NUMBER_WORDS = frozenset({*UNITS, *TEENS, *TENS, *SCALES, *ORDINALS, "hundred"})

_TOKEN = re.compile(r"\d+(?::\d\d)?(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)?")
_ORDINAL_DIGITS = re.compile(r"^(\d+)(st|nd|rd|th)$")


def tokenize(text: str) -> list[str]:
    """Lower-case word and number tokens; "a.m." becomes "am", "o'clock" "oclock"."""
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("o'clock", "oclock")
    text = text.replace("-", " ").replace("\u2019", "'")
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class NumberSpan:
    """A number found at tokens[start:end]."""

    value: int
    start: int
    end: int
    ordinal: bool = False


def _digit_token(token: str) -> tuple[int, bool] | None:
    if token.isdigit():
        return int(token), False
    found = _ORDINAL_DIGITS.match(token)
    if found:
        return int(found.group(1)), True
    return None


def number_at(tokens: list[str], start: int) -> NumberSpan | None:
    """The number written in words (or digits) that begins at `tokens[start]`, if any.

    Consumes as many tokens as form one number: "five five" is 5 (then 5),
    "twelve hundred" is 1200, "twenty first" is the ordinal 21.
    """
    if start >= len(tokens):
        return None
    as_digits = _digit_token(tokens[start])
    if as_digits is not None:
        return NumberSpan(as_digits[0], start, start + 1, as_digits[1])
    total, current, last = 0, 0, ""
    i = start
    if tokens[i] == "a" and i + 1 < len(tokens) and tokens[i + 1] in ("hundred", *SCALES):
        current, last, i = 1, "unit", i + 1
    while i < len(tokens):
        token = tokens[i]
        if token in ORDINALS and last in ("", "tens", "hundred", "scale"):
            value = ORDINALS[token]
            if last == "tens" and value >= 10:
                break
            return NumberSpan(total + current + value, start, i + 1, ordinal=True)
        if token in UNITS and last in ("", "tens", "hundred", "scale"):
            current, last = current + UNITS[token], "unit"
        elif token in TEENS and last in ("", "hundred", "scale"):
            current, last = current + TEENS[token], "teen"
        elif token in TENS and last in ("", "hundred", "scale"):
            current, last = current + TENS[token], "tens"
        elif token == "hundred" and last in ("unit", "teen") and current < 100:
            current, last = current * 100, "hundred"
        elif token in SCALES and last in ("unit", "teen", "tens", "hundred"):
            total, current, last = total + current * SCALES[token], 0, "scale"
        elif (token == "and" and last in ("hundred", "scale") and i + 1 < len(tokens)
              and tokens[i + 1] in NUMBER_WORDS):
            pass
        else:
            break
        i += 1
    if i == start or last == "":
        return None
    return NumberSpan(total + current, start, i)


def find_numbers(tokens: list[str]) -> list[NumberSpan]:
    """Every number in `tokens`, left to right, none overlapping."""
    spans: list[NumberSpan] = []
    i = 0
    while i < len(tokens):
        span = number_at(tokens, i)
        if span is None:
            i += 1
        else:
            spans.append(span)
            i = span.end
    return spans


def parse_number(text: str) -> int | None:
    """The first cardinal or ordinal number in `text`, or None."""
    spans = find_numbers(tokenize(text.replace(",", "")))
    return spans[0].value if spans else None


def parse_digits(text: str) -> str | None:
    """The digit string a caller spelled out, or None if there is none.

    Understands single digits ("five five one two"), "oh"/"zero" for 0,
    "double five", "triple oh", digit groups ("55 12") and grouped numbers
    as people read phone numbers ("fifty five twelve", "five hundred").
    Other words ("my number is ...") are ignored.
    """
    tokens = tokenize(text)
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(tokens):
        token = tokens[i]
        group = ""
        if token.isdigit():
            group = token
        elif token in UNITS or token in DIGIT_ZERO:
            group = str(UNITS.get(token, 0))
        elif token in TEENS:
            group = str(TEENS[token])
        elif token in TENS:
            value = TENS[token]
            if i + 1 < len(tokens) and tokens[i + 1] in UNITS and tokens[i + 1] != "zero":
                value += UNITS[tokens[i + 1]]
                i += 1
            group = str(value)
        elif token in ("double", "triple"):
            repeat = 2 if token == "double" else 3
            i += 1
            continue
        elif token == "hundred" and out:
            group = "00"
        elif token == "thousand" and out:
            group = "000"
        if group:
            out.append(group * repeat if len(group) == 1 else group)
        repeat = 1
        i += 1
    digits = "".join(out)
    return digits or None


# Words around a digit string that say nothing against it being the answer.
_DIGIT_FILLERS = frozenset({
    "my", "the", "number", "numbers", "is", "it's", "its", "it", "that's", "account", "phone",
    "code", "zip", "pin", "id", "member", "customer", "reference", "card", "uh", "um", "er",
    "erm", "ah", "oh", "so", "and", "okay", "ok", "yes", "yeah", "sure", "please", "thanks",
    "thank", "you", "sorry", "well", "let", "me", "see", "a", "digits", "digit", "then"})
_SPOKEN_DIGITS = frozenset({*UNITS, *TEENS, *TENS, "zero", "nought", "double", "triple",
                            "hundred", "thousand"})


def parse_digit_answer(text: str) -> str | None:
    """The digits of `text` when the utterance is a digit string, else None.

    Real evidence only: digit words (or digit groups) must outnumber the
    other words, filler words ("my account number is", "uh", "please") not
    counted, and at most two other words are allowed ("I think it's four
    five one two"). "It's worth eight dollars" and "one moment please"
    are sentences with a number in them, not answers. A lone "oh" is no
    digit.
    """
    tokens = tokenize(text)
    # A long group Whisper wrote as a numeral ("5551234": an account or phone
    # number) counts each digit; a shorter one may be a year or an amount.
    digits = sum(len(t) if t.isdigit() and len(t) >= 5 else t.isdigit() or t in _SPOKEN_DIGITS
                 for t in tokens)
    if digits == 0:
        return None
    other = sum(not (t.isdigit() or t in _SPOKEN_DIGITS or t in DIGIT_ZERO
                     or t in _DIGIT_FILLERS) for t in tokens)
    if other >= digits or other > 2:
        return None
    return parse_digits(text)
