"""Words a US English speaker says for numbers, money, digits, dates and times.

Pure functions, no I/O, in the kernel so that both speaking and dialog use
them: ``tts/normalize.py`` applies them to running text, and dialog
templates to typed values (``{appointment.time:spoken}``).
Output is plain words and punctuation only (never digits), so a rule applied
later to the same text cannot touch it again. Conventions, chosen for how a
person on the phone reads a value:

- cardinals without "and" or commas: 1234 → "one thousand two hundred thirty-four";
- identifiers (phone numbers, codes) digit by digit in groups separated by a
  comma, which the voice renders as a short pause: "five five five, one two
  three four"; zero is "zero", clearer than "oh" on a narrowband line;
- times on the 12-hour clock with "AM"/"PM": "two thirty PM", "nine oh five
  AM", "nine AM", "noon", "midnight";
- dates as "Thursday, December third", the year added only when it is not
  obvious (more than about six months from `today`, or `today` unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from decimal import Decimal

from num2words import num2words

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Letter names as the voice pronounces them; a lone "A" would be read as the article.
_LETTERS = {"A": "eh"}
# (singular, plural, minor singular, minor plural) per currency symbol or code.
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "USD": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "GBP": ("pound", "pounds", "penny", "pence"),
}
# Past this many days from today, a date is said with its year.
_YEAR_OBVIOUS_DAYS = 183


def _tidy(words: str) -> str:
    """US style for num2words' British output: no "and", no commas."""
    return " ".join(words.replace(",", " ").replace(" and ", " ").split())


def say_number(value: int) -> str:
    """A cardinal: ``-5`` → "minus five", ``1234`` → "one thousand two hundred thirty-four"."""
    if value < 0:
        return "minus " + say_number(-value)
    return _tidy(num2words(value))


def say_decimal(text: str) -> str:
    """A number as written, digits after the point read one by one:
    ``"3.14"`` → "three point one four", ``"-0.5"`` → "minus zero point five"."""
    sign, text = ("minus ", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.replace(",", "").partition(".")
    words = say_number(int(whole or "0"))
    if fraction:
        words += " point " + " ".join(DIGITS[int(d)] for d in fraction)
    return sign + words


def say_ordinal(value: int) -> str:
    """An ordinal: ``3`` → "third", ``22`` → "twenty-second"."""
    return _tidy(num2words(value, to="ordinal"))


def say_year(year: int) -> str:
    """A year the way it is said: 1905 → "nineteen oh five", 2000 → "two thousand",
    2007 → "two thousand seven", 2026 → "twenty twenty-six"."""
    if year < 1000 or year > 9999 or 2000 <= year <= 2009 or year % 1000 == 0:
        return say_number(year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return say_number(century) + " hundred"
    if rest < 10:
        return say_number(century) + " oh " + DIGITS[rest]
    return say_number(century) + " " + say_number(rest)


def group_sizes(count: int) -> list[int]:
    """How a run of `count` digits is grouped when read aloud: up to 5 in one
    breath, else threes with fours at the end (7 → 3+4, 10 → 3+3+4), or all
    fours when that divides evenly (8, 12, 16: card-like numbers)."""
    if count <= 5:
        return [count]
    if count % 4 == 0 and count >= 8:
        return [4] * (count // 4)
    fours = next(k for k in range(4) if (count - 4 * k) % 3 == 0)
    return [3] * ((count - 4 * fours) // 3) + [4] * fours


def say_characters(text: str) -> str:
    """Each digit and letter on its own ("A4Z" → "eh four Z"); other characters
    are dropped."""
    words = []
    for char in text:
        if char.isdigit():
            words.append(DIGITS[int(char)])
        elif char.isalpha():
            upper = char.upper()
            words.append(_LETTERS.get(upper, upper))
    return " ".join(words)


def say_digits(text: str, groups: Sequence[int] | None = None) -> str:
    """Read an identifier character by character, in groups separated by commas.

    Separators in `text` (space, hyphen, dot, parentheses, slash) mark the
    groups; without any, `groups` (or :func:`group_sizes`) decides:
    ``"5551234"`` → "five five five, one two three four".
    """
    parts = [p for p in _split_groups(text) if p]
    if len(parts) == 1:
        run = parts[0]
        sizes = list(groups) if groups else group_sizes(len(run))
        parts, start = [], 0
        for size in sizes:
            parts.append(run[start:start + size])
            start += size
        if start < len(run):
            parts.append(run[start:])
    return ", ".join(say_characters(p) for p in parts if p)


def _split_groups(text: str) -> list[str]:
    out, current = [], ""
    for char in text:
        if char.isalnum():
            current += char
        else:
            out.append(current)
            current = ""
    return [*out, current]


def say_money(amount: Decimal | int | str, currency: str = "$") -> str:
    """An amount of money: ``Decimal("12.50")`` → "twelve dollars and fifty cents",
    ``1`` → "one dollar", ``"0.99"`` → "ninety-nine cents"."""
    major_one, major_many, minor_one, minor_many = CURRENCIES.get(currency, CURRENCIES["$"])
    value = Decimal(str(amount).replace(",", "")).quantize(Decimal("0.01"))
    sign = "minus " if value < 0 else ""
    units, cents = divmod(int(abs(value) * 100), 100)
    major = f"{say_number(units)} {major_one if units == 1 else major_many}"
    minor = f"{say_number(cents)} {minor_one if cents == 1 else minor_many}"
    if not cents:
        return sign + major
    if not units:
        return sign + minor
    return f"{sign}{major} and {minor}"


def say_time(hour: int | time, minute: int = 0, meridiem: str | None = None) -> str:
    """A clock time, 12-hour style: (14, 30) → "two thirty PM", (9, 5) →
    "nine oh five AM", (9, 0) → "nine AM", (12, 0) → "noon", (0, 0) → "midnight".

    Without `meridiem` ("am"/"pm"), `hour` is on the 24-hour clock.
    """
    if isinstance(hour, time):
        return say_time(hour.hour, hour.minute)
    if meridiem:
        pm = meridiem.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    suffix = "PM" if hour >= 12 else "AM"
    words = say_number(hour % 12 or 12)
    if minute:
        words += " " + (f"oh {DIGITS[minute]}" if minute < 10 else say_number(minute))
    return f"{words} {suffix}"


def say_date(day: date, *, today: date | None = None, weekday: bool = True) -> str:
    """A calendar date: "Thursday, December third", with ", twenty twenty-six"
    appended when the year is not obvious (more than about six months from
    `today`, or `today` not given)."""
    words = f"{MONTHS[day.month - 1]} {say_ordinal(day.day)}"
    if weekday:
        words = f"{WEEKDAYS[day.weekday()]}, {words}"
    if today is None or abs((day - today).days) > _YEAR_OBVIOUS_DAYS:
        words += f", {say_year(day.year)}"
    return words
