"""Text normalization for speech: written text in, the words a person says out.

A voice reads "2026-12-03 at 14:30" digit by digit; a person says "Thursday,
December third at two thirty PM". :func:`normalize` rewrites running text
with one rule per kind of token, most specific first (markup, e-mail
addresses, abbreviations, dates, times, money, percent, phone numbers and
digit strings, ordinals, years, fractions, ranges, plain numbers, symbols).
Each rule emits only words (see `spoken.py`), so a later rule never rewrites
an earlier one's output.

Templates can say exactly how a value is read with markup, which wins over
every guess: ``{digits:1234}``, ``{spell:AB12}``, ``{number:1234}``,
``{ordinal:3}``, ``{money:12.5}``, ``{date:2026-12-03}``, ``{time:14:30}``,
``{year:2026}``. An unknown kind is read as plain text.

Guesses made for running text (documented so prompt authors can rely on them):
a run of 5 or more digits without thousands separators, or one starting with
0, is an identifier and is read digit by digit; "H:MM" without AM/PM is on
the 24-hour clock; "m/d/yyyy" is a US date; a 4-digit number after "in",
"since", "by" (and the like), or any from 1900 to 2099, is a year; "St." after a house number is
"Street", before a name "Saint"; "Dr." after a house number is "Drive";
"10-15" is a range ("ten to fifteen").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from callcenter.core.spoken import (
    MONTHS,
    say_characters,
    say_date,
    say_decimal,
    say_digits,
    say_money,
    say_number,
    say_ordinal,
    say_time,
    say_year,
)

_Rule = Callable[[re.Match[str]], str]

# Abbreviations that precede what they qualify, so never end a sentence.
_PREFIXES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor",
             "Gov": "Governor", "Sen": "Senator", "Rep": "Representative", "Capt": "Captain",
             "Sgt": "Sergeant", "Lt": "Lieutenant", "Mt": "Mount", "Ft": "Fort",
             "vs": "versus", "approx": "approximately"}
# Abbreviations that may end a sentence: their period is kept when it does.
_WORDS = {"Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road", "Ln": "Lane", "Hwy": "Highway",
          "Pkwy": "Parkway", "Ct": "Court", "Apt": "Apartment", "Ste": "Suite",
          "Dept": "Department", "Jr": "Junior", "Sr": "Senior", "Inc": "Incorporated",
          "Ltd": "Limited", "Corp": "Corporation", "Co": "Company", "etc": "et cetera",
          "appt": "appointment"}
_BEFORE_NUMBER = {"No": "number", "no": "number", "Tel": "telephone", "tel": "telephone"}
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "2/3": "two thirds",
              "1/4": "one quarter", "3/4": "three quarters", "24/7": "twenty-four seven"}
_MONTH_NAMES = "|".join([*(m[:3] for m in MONTHS), "Sept", *MONTHS])
_HOUSE_NUMBER = re.compile(r"\d+[A-Za-z]?(?:\s+[A-Z][\w'-]*\.?){1,3}\s*$")
_MARKUP = re.compile(r"\{(\w+):([^{}]*)\}")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_DOTTED = {"e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as",
           "u.s.": "U S"}
_ABBREV_DOTTED = re.compile(r"(?<!\w)((?:e\.g|i\.e|a\.k\.a|U\.S)\.)", re.IGNORECASE)
_ABBREV_PLACE = re.compile(r"\b(St|Dr)\.?(?=\s|$|[,;:!?])")
_ABBREV_TITLE = re.compile(r"\b(" + "|".join(_PREFIXES) + r")\.(?=\s)")
_ABBREV_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\.(?=\s|$|[,;:!?])")
_EXTENSION = re.compile(r"\b[Ee]xt\.?\s*(\d{1,6})\b")
_ABBREV_BEFORE_NUMBER = re.compile(r"\b(" + "|".join(_BEFORE_NUMBER) + r")\.\s*(?=\d)")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ]([01]\d|2[0-3]):([0-5]\d)"
                       r"(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")
_MONTH_DAY = re.compile(r"\b(" + _MONTH_NAMES + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
                        r"(?:,?\s+(\d{4})\b)?")
_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])"
                    r"(?:\s?([AaPp])\.?\s?[Mm](\.)?(?!\w))?")
_HOUR_MERIDIEM = re.compile(r"(?<![\d:.])(1[0-2]|0?[1-9])\s?([AaPp])\.?\s?[Mm](\.)?(?!\w)")
_MONEY = re.compile(r"([$€£])\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                    r"(?:\s?(thousand|million|billion|trillion|k|m|bn)\b)?", re.IGNORECASE)
_CENTS = re.compile(r"\b(\d+)\s?¢")
_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)\s?%")
_PHONE = re.compile(r"(?<![\w+])(\+?1[\s.-]?)?\(?\b(\d{3})\)?[\s.-]?(\d{3})[\s.-](\d{4})\b")
_DIGIT_GROUPS = re.compile(r"(?<![\w.,])\d+(?:-\d+)+(?![\w]|[.,]\d)|\b\d{3,4}(?: \d{3,4}){2,}\b")
_LONG_DIGITS = re.compile(r"(?<![\w.,])(?:\d{5,}|0\d+)(?![\w]|[.,]\d)")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(in|since|of|by|until|till|before|after|from|through|year|circa)"
                   r"\s+(1[1-9]\d\d|20\d\d)\b(?![.,]\d)", re.IGNORECASE)
_BARE_YEAR = re.compile(r"(?<![\w.,-])(?:19|20)\d\d(?![\w-]|[.,]\d)")
_FRACTION = re.compile(r"(?<![\d/])(?:1/2|1/3|2/3|1/4|3/4|24/7)(?![\d/])")
_RANGE = re.compile(r"(?<![\w.,-])(\d{1,4})-(\d{1,4})(?![\w-]|[.,]\d)")
_NUMBER = re.compile(r"(?:(?<![\w-])-)?(?<![A-Za-z\d])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_SYMBOLS = (("&", " and "), ("°F", " degrees Fahrenheit"),
            ("°C", " degrees Celsius"), ("°", " degrees"), ("+", " plus "), ("#", " number "),
            ("@", " at "), ("%", " percent"))


def normalize(text: str, *, today: date | None = None) -> str:
    """Rewrite `text` into words to be spoken. `today` decides whether a
    date's year is said (see :func:`callcenter.core.spoken.say_date`)."""
    rules: list[tuple[re.Pattern[str], _Rule]] = [
        (_MARKUP, lambda m: _markup(m, today)),
        (_EMAIL, _email),
        (_ABBREV_DOTTED, lambda m: _DOTTED[m.group(1).lower()]),
        (_ABBREV_PLACE, _place),
        (_ABBREV_TITLE, lambda m: _PREFIXES[m.group(1)]),
        (_ABBREV_WORD, _word),
        (_EXTENSION, lambda m: "extension " + say_digits(m.group(1))),
        (_ABBREV_BEFORE_NUMBER, lambda m: _BEFORE_NUMBER[m.group(1)] + " "),
        (_ISO_DATE, lambda m: _iso_date(m, today)),
        (_US_DATE, lambda m: _us_date(m, today)),
        (_MONTH_DAY, _month_day),
        (_CLOCK, _clock),
        (_HOUR_MERIDIEM, _hour_meridiem),
        (_MONEY, _money),
        (_CENTS, lambda m: say_money(Decimal(m.group(1)) / 100)),
        (_PERCENT, lambda m: say_decimal(m.group(1)) + " percent"),
        (_PHONE, _phone),
        (_DIGIT_GROUPS, _digit_groups),
        (_LONG_DIGITS, lambda m: say_digits(m.group(0))),
        (_ORDINAL, lambda m: say_ordinal(int(m.group(1)))),
        (_YEAR, lambda m: f"{m.group(1)} {say_year(int(m.group(2)))}"),
        (_BARE_YEAR, lambda m: say_year(int(m.group(0)))),
        (_FRACTION, lambda m: _FRACTIONS[m.group(0)]),
        (_RANGE, _range),
        (_NUMBER, _number),
    ]
    for pattern, rule in rules:
        text = pattern.sub(rule, text)
    for symbol, words in _SYMBOLS:
        text = text.replace(symbol, words)
    return re.sub(r"[ \t]+", " ", text).strip()


def _markup(match: re.Match[str], today: date | None) -> str:
    kind, value = match.group(1).lower(), match.group(2).strip()
    try:
        if kind in ("digits", "phone"):
            return say_digits(value)
        if kind == "spell":
            return say_characters(value)
        if kind == "number":
            return say_decimal(value)
        if kind == "ordinal":
            return say_ordinal(int(value))
        if kind == "money":
            return say_money(value)
        if kind == "year":
            return say_year(int(value))
        if kind == "date":
            return say_date(date.fromisoformat(value), today=today)
        if kind == "time":
            hour, _, minute = value.partition(":")
            return say_time(int(hour), int(minute[:2] or 0))
    except (ValueError, ArithmeticError):
        pass
    return value


def _sentence_end(match: re.Match[str]) -> str:
    """A period if the abbreviation just matched also ends its sentence."""
    rest = match.string[match.end():]
    return "." if not rest.strip() or re.match(r"\s+[A-Z\"']", rest) else ""


def _place(match: re.Match[str]) -> str:
    """"St."/"Dr.": Street/Drive after a house number ("12 Main St."), else
    Saint/Doctor (before a name), Street/Drive otherwise."""
    abbrev, dotted = match.group(1), match.group(0).endswith(".")
    after_house = _HOUSE_NUMBER.search(match.string, 0, match.start()) is not None
    before_name = re.match(r"\s+[A-Z]", match.string[match.end():]) is not None
    if after_house or not before_name:
        return ("Street" if abbrev == "St" else "Drive") + (_sentence_end(match) if dotted else "")
    return "Saint" if abbrev == "St" else "Doctor"


def _word(match: re.Match[str]) -> str:
    return _WORDS[match.group(1)] + _sentence_end(match)


def _email(match: re.Match[str]) -> str:
    user, _, domain = match.group(0).partition("@")
    return f"{user} at {domain}".replace(".", " dot ")


def _iso_date(match: re.Match[str], today: date | None) -> str:
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return match.group(0)
    words = say_date(day, today=today)
    if match.group(4):
        words += " at " + say_time(int(match.group(4)), int(match.group(5)))
    return words


def _us_date(match: re.Match[str], today: date | None) -> str:
    year = int(match.group(3))
    try:
        day = date(year + 2000 if year < 100 else year, int(match.group(1)), int(match.group(2)))
    except ValueError:
        return match.group(0)
    return say_date(day, today=today)


def _month_day(match: re.Match[str]) -> str:
    if not 1 <= int(match.group(2)) <= 31:
        return match.group(0)
    month = next(m for m in MONTHS if m.startswith(match.group(1)[:3]))
    words = f"{month} {say_ordinal(int(match.group(2)))}"
    return words + (f", {say_year(int(match.group(3)))}" if match.group(3) else "")


def _clock(match: re.Match[str]) -> str:
    hour, minute, meridiem = int(match.group(1)), int(match.group(2)), match.group(3)
    if meridiem and hour > 12:
        meridiem = None
    return say_time(hour, minute, meridiem) + (_sentence_end(match) if match.group(4) else "")


def _hour_meridiem(match: re.Match[str]) -> str:
    words = say_time(int(match.group(1)), 0, match.group(2))
    return words + (_sentence_end(match) if match.group(3) else "")


def _money(match: re.Match[str]) -> str:
    symbol, amount, scale = match.group(1), match.group(2), match.group(3)
    if scale:
        unit = "pounds" if symbol == "£" else "euros" if symbol == "€" else "dollars"
        scale = {"k": "thousand", "m": "million", "bn": "billion"}.get(scale.lower(), scale)
        return f"{say_decimal(amount)} {scale} {unit}"
    return say_money(amount, symbol)


def _phone(match: re.Match[str]) -> str:
    country, area, exchange, line = match.groups()
    area_words = "eight hundred" if area == "800" else say_digits(area)
    prefix = "one, " if country else ""
    return f"{prefix}{area_words}, {say_digits(exchange)}, {say_digits(line)}"


def _digit_groups(match: re.Match[str]) -> str:
    text = match.group(0)
    if sum(c.isdigit() for c in text) < 5:
        return text
    return say_digits(text)


def _range(match: re.Match[str]) -> str:
    """"10-15", "9-5", a score "2-1": each read "X to Y"."""
    return f"{say_number(int(match.group(1)))} to {say_number(int(match.group(2)))}"


def _number(match: re.Match[str]) -> str:
    text = match.group(0)
    words = say_decimal(text) if "." in text or "," in text else say_number(int(text))
    follows = match.string[match.end():match.end() + 1]
    return words + (" " if follows.isalpha() else "")
