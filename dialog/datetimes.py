"""Spoken dates and times, relative to a given day.

Pure functions: the caller passes `today` (in the flow's time zone), so a
test pins the calendar and a call in Sydney and one in Denver each hear
their own "tomorrow".

Dates: "today", "tomorrow", "the day after tomorrow", "in three days",
"a week from today", "Tuesday", "this/next/coming Tuesday", "Tuesday next
week", "Tuesday after next", "December third", "the third of December",
"Dec 3rd 2026", "the 5th", "12/3", "2026-12-03".

Decisions, since speech is ambiguous:
- "Tuesday", "this Tuesday" and "next Tuesday" all mean the first Tuesday
  after today; "Tuesday next week" means the Tuesday of the following
  (Monday-based) week; "Tuesday after next" is a week after "next Tuesday".
- A month and day without a year is the next one on or after today; "the 5th"
  alone is the next 5th on or after today.
- A time without am/pm is read in business hours: 7-11 is morning, 12 noon,
  1-6 afternoon (override with `pm_below`).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from dialog.numbers import ORDINALS, TEENS, TENS, UNITS, number_at, tokenize

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_MONTH_ALIASES = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASHED = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
# Words that may stand beside a bare hour ("um, two please"): any other word
# makes it a sentence with a number in it ("one moment please"), not a time.
_BARE_TIME_FILLERS = frozenset({"um", "uh", "er", "oh", "well", "so", "please", "okay", "ok",
                                "maybe", "say", "then", "thanks", "how", "about", "like",
                                "is", "fine", "good", "works", "great", "perfect"})


def _month(token: str) -> int | None:
    if token in MONTHS:
        return MONTHS.index(token) + 1
    return _MONTH_ALIASES.get(token)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_month_day(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        found = _safe_date(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _year_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """A spoken year at tokens[i]: "2026", "twenty twenty six", "two thousand twenty six"."""
    first = number_at(tokens, i)
    if first is None or first.ordinal:
        return None
    if 1900 <= first.value <= 2100:
        return first.value, first.end
    if first.value in (19, 20):
        second = number_at(tokens, first.end)
        if second is not None and not second.ordinal and 0 <= second.value <= 99:
            return first.value * 100 + second.value, second.end
    return None


def _weekday(tokens: list[str], i: int, today: date) -> tuple[date, int] | None:
    day = WEEKDAYS.index(tokens[i])
    ahead = (day - today.weekday() - 1) % 7 + 1
    found = today + timedelta(days=ahead)
    end = i + 1
    rest = tokens[end:end + 2]
    before = tokens[max(0, i - 2):i]
    if rest[:2] == ["next", "week"] or before == ["next", "week"]:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        found = monday + timedelta(days=day)
        end += 2 if rest[:2] == ["next", "week"] else 0
    elif rest[:2] == ["after", "next"]:
        found += timedelta(days=7)
        end += 2
    return found, end


def _relative(tokens: list[str], i: int, today: date) -> tuple[date, int] | None:
    token = tokens[i]
    if token in ("today", "tonight"):
        return today, i + 1
    if token == "tomorrow":
        return today + timedelta(days=1), i + 1
    if tokens[i:i + 3] == ["day", "after", "tomorrow"]:
        return today + timedelta(days=2), i + 3
    if token == "yesterday":
        return today - timedelta(days=1), i + 1
    amount = None
    j = i + 1 if token == "in" else i
    if j < len(tokens) and tokens[j] in ("a", "one"):
        amount, j = 1, j + 1
    else:
        span = number_at(tokens, j)
        if span is not None and not span.ordinal:
            amount, j = span.value, span.end
    if amount is None or j >= len(tokens):
        return None
    unit = tokens[j]
    days = {"day": 1, "days": 1, "week": 7, "weeks": 7}.get(unit)
    if days is None:
        return None
    tail = tokens[j + 1:j + 3]
    if token == "in" or tail in (["from", "today"], ["from", "now"]):
        end = j + 1 + (2 if tail in (["from", "today"], ["from", "now"]) else 0)
        return today + timedelta(days=amount * days), end
    return None


def _month_day(tokens: list[str], i: int, today: date) -> tuple[date, int] | None:
    """ "December third [2026]" or "the third of December [2026]" or "3 December"."""
    month = _month(tokens[i])
    day_span = None
    end = i + 1
    if month is not None:
        k = end + (1 if end < len(tokens) and tokens[end] == "the" else 0)
        day_span = number_at(tokens, k)
        if day_span is None or not 1 <= day_span.value <= 31:
            return None
        end = day_span.end
    else:
        day_span = number_at(tokens, i)
        if day_span is None or not 1 <= day_span.value <= 31:
            return None
        k = day_span.end + (1 if tokens[day_span.end:day_span.end + 1] == ["of"] else 0)
        month = _month(tokens[k]) if k < len(tokens) else None
        if month is None:
            return None
        end = k + 1
    year = _year_at(tokens, end)
    if year is not None:
        found = _safe_date(year[0], month, day_span.value)
        return (found, year[1]) if found is not None else None
    found = _next_month_day(today, month, day_span.value)
    return (found, end) if found is not None else None


def _day_of_month(tokens: list[str], i: int, today: date) -> tuple[date, int] | None:
    """ "the fifth", "on the 5th": the next such day of a month."""
    if tokens[i] not in ("the", "on"):
        return None
    k = i + 1 + (1 if tokens[i] == "on" and tokens[i + 1:i + 2] == ["the"] else 0)
    span = number_at(tokens, k)
    if span is None or not span.ordinal or not 1 <= span.value <= 31:
        return None
    if _month_day(tokens, k, today) is not None:
        return _month_day(tokens, k, today)
    for months_ahead in range(0, 3):
        month0 = today.month - 1 + months_ahead
        found = _safe_date(today.year + month0 // 12, month0 % 12 + 1, span.value)
        if found is not None and found >= today:
            return found, span.end
    return None


def find_date(text: str, today: date) -> tuple[date, int, int] | None:
    """The first date in `text` as (date, first token, end token), or None."""
    tokens = tokenize(text)
    for i in range(len(tokens)):
        if tokens[i] in WEEKDAYS:
            weekday = _weekday(tokens, i, today)
            if weekday is not None:
                start = i - 1 if i and tokens[i - 1] in ("this", "next", "coming") else i
                return weekday[0], start, weekday[1]
        for parse in (_relative, _month_day, _day_of_month):
            found = parse(tokens, i, today)
            if found is not None:
                return found[0], i, found[1]
    return None


def parse_date(text: str, today: date) -> date | None:
    """The first date the caller said, relative to `today`, or None."""
    iso = _ISO.search(text)
    if iso:
        return _safe_date(int(iso[1]), int(iso[2]), int(iso[3]))
    slashed = _SLASHED.search(text)
    if slashed:
        month, day = int(slashed[1]), int(slashed[2])
        if slashed[3]:
            year = int(slashed[3])
            return _safe_date(year + 2000 if year < 100 else year, month, day)
        return _next_month_day(today, month, day)
    found = find_date(text, today)
    return found[0] if found else None


def _hour_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    token = tokens[i]
    if token.isdigit() and len(token) <= 2 and int(token) <= 23:
        return int(token), i + 1
    value = UNITS.get(token) or TEENS.get(token)
    if value is not None and 1 <= value <= 12:
        return value, i + 1
    if token in TEENS or (token == "twenty" and i + 1 < len(tokens) and tokens[i + 1] in UNITS):
        span = number_at(tokens, i)
        if span is not None and span.value <= 23:
            return span.value, span.end
    return None


def _minutes_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    token = tokens[i]
    if token in ("oclock", "hundred"):
        return 0, i + 1
    if token in ("oh", "o") and i + 1 < len(tokens) and tokens[i + 1] in UNITS:
        return UNITS[tokens[i + 1]], i + 2
    if token.isdigit() and len(token) == 2:
        return (int(token), i + 1) if int(token) < 60 else None
    if token in TENS or token in TEENS:
        span = number_at(tokens, i)
        if span is not None and not span.ordinal and span.value < 60:
            return span.value, span.end
    return None


def _meridiem(tokens: list[str], i: int) -> tuple[str, int] | None:
    words = tokens[i:i + 3]
    if words[:1] in (["am"], ["pm"]):
        return words[0], i + 1
    if words[:2] in (["a", "m"], ["p", "m"]):
        return words[0] + "m", i + 2
    if words[:3] == ["in", "the", "morning"]:
        return "am", i + 3
    if words[:3] in (["in", "the", "afternoon"], ["in", "the", "evening"]) or words[:2] == [
            "at", "night"]:
        return "pm", i + (3 if words[0] == "in" else 2)
    return None


def _clock(hour: int, minute: int, meridiem: str | None, pm_below: int) -> time | None:
    if meridiem is not None and 1 <= hour <= 12:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif meridiem is None and 1 <= hour < pm_below:
        hour += 12
    return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


def _relative_time(tokens: list[str], i: int) -> tuple[int, int, int] | None:
    """ "half past ten", "quarter to three", "ten past four": (hour, minute, end)."""
    token = tokens[i]
    j = i + 1
    if token == "half":
        minutes = 30
    elif token == "quarter":
        minutes = 15
    else:
        span = number_at(tokens, i)
        if span is None or span.ordinal or not 1 <= span.value < 60:
            return None
        minutes, j = span.value, span.end
        j += 1 if tokens[j:j + 1] in (["minutes"], ["minute"]) else 0
    if j >= len(tokens) or tokens[j] not in ("past", "after", "to", "til", "till", "before",
                                              "of"):
        return None
    hour = _hour_at(tokens, j + 1)
    if hour is None:
        return None
    if tokens[j] in ("past", "after"):
        return hour[0], minutes, hour[1]
    return (hour[0] - 1) % 24 or 12, 60 - minutes, hour[1]


def parse_time(text: str, *, bare: bool = True, pm_below: int = 7) -> time | None:
    """The first time of day the caller said, or None.

    With ``bare=False`` a lone number ("on the 3 ...") is not taken for an
    hour: the time needs a minute, am/pm, "o'clock" or a preceding "at". A
    bare hour ("two") is a time only said alone or with fillers ("two
    please"): "one moment please" is no time.
    """
    tokens = tokenize(text)
    for i, token in enumerate(tokens):
        if token in ("noon", "midday") or tokens[i:i + 2] == ["twelve", "noon"]:
            return time(12, 0)
        if token == "midnight":
            return time(0, 0)
        if ":" in token:
            hour_text, minute_text = token.split(":")
            meridiem = _meridiem(tokens, i + 1)
            return _clock(int(hour_text), int(minute_text),
                          meridiem[0] if meridiem else None, pm_below)
        relative = _relative_time(tokens, i)
        if relative is not None:
            meridiem = _meridiem(tokens, relative[2])
            return _clock(relative[0], relative[1], meridiem[0] if meridiem else None, pm_below)
        after_at = i > 0 and tokens[i - 1] in ("at", "around", "about")
        if token.isdigit() and len(token) in (3, 4):  # "230 pm", "at 1030"
            meridiem = _meridiem(tokens, i + 1)
            if meridiem or after_at:
                return _clock(int(token[:-2]), int(token[-2:]),
                              meridiem[0] if meridiem else None, pm_below)
        # "at two" is often heard as "at to", an answer's "two thirty" as "to 30"
        hour = ((2, i + 1) if token in ("to", "too") and (after_at or i == 0)
                else _hour_at(tokens, i))
        if hour is None or tokens[i - 1:i] in (["the"], ["in"]) or token in ORDINALS:
            continue
        minutes = _minutes_at(tokens, hour[1])
        end = minutes[1] if minutes else hour[1]
        meridiem = _meridiem(tokens, end)
        anchored = minutes or meridiem or after_at
        alone = all(t in _BARE_TIME_FILLERS or t == token  # "two, two" (Whisper's echo)
                    for t in tokens[:i] + tokens[end:])
        if anchored or (bare and alone):
            return _clock(hour[0], minutes[0] if minutes else 0,
                          meridiem[0] if meridiem else None, pm_below)
    digits = "".join(t for t in tokens if t.isdigit())
    if bare and len(digits) in (3, 4) and digits == "".join(tokens):
        return _clock(int(digits[:-2]), int(digits[-2:]), None, pm_below)
    return None
