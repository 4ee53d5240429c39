"""Text normalization: what a person says for numbers, dates, times, codes."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from callcenter.core.spoken import (
    group_sizes,
    say_date,
    say_decimal,
    say_digits,
    say_money,
    say_number,
    say_ordinal,
    say_time,
    say_year,
)
from tts.normalize import normalize

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(("text", "spoken"), [
    # the example
    ("Hello. Your appointment is on 2026-12-03 at 14:30.",
     "Hello. Your appointment is on Thursday, December third at two thirty PM."),
    # cardinals, decimals, negatives
    ("I have 42 apples.", "I have forty-two apples."),
    ("We have 100 pears and 101 plums.", "We have one hundred pears and one hundred one plums."),
    ("It is 1,234,567 items.",
     "It is one million two hundred thirty-four thousand five hundred sixty-seven items."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("It is -5 outside.", "It is minus five outside."),
    ("It is 0 now.", "It is zero now."),
    ("Take 10-15 minutes.", "Take ten to fifteen minutes."),
    ("Open 9-5.", "Open nine to five."),
    ("Get 5G now.", "Get five G now."),
    # ordinals
    ("the 1st, 2nd, 3rd and 22nd", "the first, second, third and twenty-second"),
    # money
    ("$12.50", "twelve dollars and fifty cents"),
    ("$1", "one dollar"),
    ("$1.01", "one dollar and one cent"),
    ("$0.99", "ninety-nine cents"),
    ("$12.5", "twelve dollars and fifty cents"),
    ("$1,250.00", "one thousand two hundred fifty dollars"),
    ("$2.5 million", "two point five million dollars"),
    ("$3M", "three million dollars"),
    ("€20", "twenty euros"),
    ("£1.50", "one pound and fifty pence"),
    ("50¢", "fifty cents"),
    # percent
    ("15%", "fifteen percent"),
    ("2.5 %", "two point five percent"),
    # times
    ("14:30", "two thirty PM"),
    ("2:30 pm", "two thirty PM"),
    ("2:30 p.m.", "two thirty PM."),
    ("See you at 2:30 p.m. today", "See you at two thirty PM today"),
    ("9:05 AM", "nine oh five AM"),
    ("09:00", "nine AM"),
    ("12:00", "noon"),
    ("00:00", "midnight"),
    ("0:30", "twelve thirty AM"),
    ("12:15 pm", "twelve fifteen PM"),
    ("3pm", "three PM"),
    ("11 a.m.", "eleven AM."),
    ("14:30:15", "fourteen:thirty:fifteen"),  # not a clock time: left to plain numbers
    # dates
    ("2026-12-03", "Thursday, December third"),
    ("2027-06-01", "Tuesday, June first, twenty twenty-seven"),
    ("2027-01-05", "Tuesday, January fifth"),
    ("2026-12-03T09:00:00Z", "Thursday, December third at nine AM"),
    ("2026-12-03 16:45", "Thursday, December third at four forty-five PM"),
    ("12/03/2026", "Thursday, December third"),
    ("December 3rd, 2026", "December third, twenty twenty-six"),
    ("Jan. 5", "January fifth"),
    ("Sept 30", "September thirtieth"),
    ("2026-13-45", "two zero two six, one three, four five"),  # not a date: an identifier
    # years
    ("in 2019", "in twenty nineteen"),
    ("since 1905", "since nineteen oh five"),
    ("by 2000", "by two thousand"),
    ("until 2008", "until two thousand eight"),
    ("in 1776", "in seventeen seventy-six"),
    ("Q3 2026 results", "Q3 twenty twenty-six results"),
    ("1200 points", "one thousand two hundred points"),
    # phone numbers and digit strings
    ("555-1234", "five five five, one two three four"),
    ("5551234", "five five five, one two three four"),
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("555.123.4567", "five five five, one two three, four five six seven"),
    ("5551234567", "five five five, one two three, four five six seven"),
    ("1-800-555-1234", "one, eight hundred, five five five, one two three four"),
    ("+1 212 555 0100", "one, two one two, five five five, zero one zero zero"),
    ("Card 1234 5678 9012 3456", "Card one two three four, five six seven eight, "
     "nine zero one two, three four five six"),
    ("zip 12345", "zip one two three four five"),
    ("order 007", "order zero zero seven"),
    ("account 12345678", "account one two three four, five six seven eight"),
    # markup from templates
    ("{digits:1234}", "one two three four"),
    ("{phone:5551234}", "five five five, one two three four"),
    ("{spell:AB12}", "eh B one two"),
    ("{number:1234}", "one thousand two hundred thirty-four"),
    ("{ordinal:3}", "third"),
    ("{money:12.5}", "twelve dollars and fifty cents"),
    ("{date:2026-12-03}", "Thursday, December third"),
    ("{time:14:30}", "two thirty PM"),
    ("{year:2026}", "twenty twenty-six"),
    ("{bogus:42}", "forty-two"),
    ("{money:abc}", "abc"),
    # abbreviations
    ("Dr. Smith will see you.", "Doctor Smith will see you."),
    ("We are at 12 Main St. See you.", "We are at twelve Main Street. See you."),
    ("We are at 12 Main St, suite 4.", "We are at twelve Main Street, suite four."),
    ("Visit St. Louis.", "Visit Saint Louis."),
    ("4 Elm Dr. is near.", "four Elm Drive is near."),
    ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
    ("Ms. Lee", "Miz Lee"),
    ("Smith vs. Jones", "Smith versus Jones"),
    ("Apt. 4B", "Apartment four B"),
    ("apples, pears, etc. Then go.", "apples, pears, et cetera. Then go."),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("Acme Inc. is here", "Acme Incorporated is here"),
    ("No. 5", "number five"),
    ("ext. 204", "extension two zero four"),
    ("555-1234 ext 12", "five five five, one two three four extension one two"),
    ("a 2 x 4 board", "a two x four board"),
    ("#12", "number twelve"),
    # symbols
    ("salt & pepper", "salt and pepper"),
    ("24/7 support", "twenty-four seven support"),
    ("1/2 off", "one half off"),
    ("72°F", "seventy-two degrees Fahrenheit"),
    ("bob.smith@example.com", "bob dot smith at example dot com"),
    # plain text is untouched
    ("How can I help you today?", "How can I help you today?"),
    ("", ""),
])
def test_normalize(text: str, spoken: str) -> None:
    assert normalize(text, today=TODAY) == spoken


def test_output_has_no_digits_left() -> None:
    text = ("Call 555-1234 on 2026-12-03 at 14:30 about $12.50, 15% off order 98765, "
            "the 3rd of 7 items, in 2019, room 4B.")
    assert not any(c.isdigit() for c in normalize(text, today=TODAY).replace("4B", ""))


def test_date_objects_and_the_year() -> None:
    assert say_date(date(2026, 12, 3), today=TODAY) == "Thursday, December third"
    assert say_date(date(2026, 12, 3)) == "Thursday, December third, twenty twenty-six"
    assert say_date(date(2025, 4, 1), today=TODAY) == "Tuesday, April first, twenty twenty-five"
    assert say_date(date(2026, 12, 3), today=TODAY, weekday=False) == "December third"


def test_time_objects() -> None:
    assert say_time(time(14, 30)) == "two thirty PM"
    assert say_time(time(0, 5)) == "twelve oh five AM"
    assert say_time(7, 45, "pm") == "seven forty-five PM"
    assert say_time(12, 0, "am") == "midnight"


def test_numbers_words() -> None:
    assert say_number(1234) == "one thousand two hundred thirty-four"
    assert say_number(-21) == "minus twenty-one"
    assert say_decimal("0.5") == "zero point five"
    assert say_ordinal(101) == "one hundred first"
    assert [say_year(y) for y in (1900, 1905, 1999, 2000, 2007, 2010, 2026)] == [
        "nineteen hundred", "nineteen oh five", "nineteen ninety-nine", "two thousand",
        "two thousand seven", "twenty ten", "twenty twenty-six"]


def test_money_values() -> None:
    assert say_money(Decimal("12.50")) == "twelve dollars and fifty cents"
    assert say_money(Decimal("-3")) == "minus three dollars"
    assert say_money("1,000,000") == "one million dollars"
    assert say_money(2, "EUR") == "two euros"


@pytest.mark.parametrize(("count", "sizes"), [
    (3, [3]), (5, [5]), (6, [3, 3]), (7, [3, 4]), (8, [4, 4]), (9, [3, 3, 3]),
    (10, [3, 3, 4]), (11, [3, 4, 4]), (12, [4, 4, 4]), (16, [4, 4, 4, 4]),
])
def test_digit_grouping(count: int, sizes: list[int]) -> None:
    assert group_sizes(count) == sizes
    assert sum(sizes) == count


def test_digits_keep_written_groups() -> None:
    assert say_digits("12-345") == "one two, three four five"
    assert say_digits("123456", groups=[2, 4]) == "one two, three four five six"
    assert say_digits("A4Z") == "eh four Z"
