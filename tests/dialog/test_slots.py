"""Slot parsers: yes/no, digits, numbers, dates, times, free text, by voice and by key."""

from __future__ import annotations

from datetime import date, time

import pytest

from dialog.datetimes import parse_date, parse_time
from dialog.numbers import parse_digits, parse_number
from dialog.slots import Filled, Rejected, SlotRules, SlotType, parse_slot, parse_yes_no

WEDNESDAY = date(2025, 6, 4)


@pytest.mark.parametrize(("text", "answer"), [
    ("yes", True), ("Yeah.", True), ("yep", True), ("sure", True), ("that's right", True),
    ("correct", True), ("yes please", True), ("uh huh", True), ("of course", True),
    ("absolutely", True), ("okay go ahead", True),
    ("no", False), ("nope", False), ("nah", False), ("no thanks", False),
    ("that's not right", False), ("not correct", False), ("I don't think so", False),
    ("no, I'll keep it", False),
    ("maybe", None), ("", None), ("yes no", None), ("what", None),
])
def test_yes_no(text: str, answer: bool | None) -> None:
    assert parse_yes_no(text) is answer


@pytest.mark.parametrize(("text", "digits"), [
    ("five five one two", "5512"), ("5512", "5512"), ("55 12", "5512"),
    ("five oh one", "501"), ("zero zero seven", "007"), ("double five one", "551"),
    ("triple oh", "000"), ("fifty five twelve", "5512"), ("five hundred", "500"),
    ("my number is five five five, one two three four", "5551234"),
    ("twenty", "20"), ("twenty one", "21"), ("hello", None),
])
def test_digits(text: str, digits: str | None) -> None:
    assert parse_digits(text) == digits


@pytest.mark.parametrize(("text", "number"), [
    ("seven", 7), ("twenty five", 25), ("twenty-five", 25), ("one hundred and twelve", 112),
    ("a hundred", 100), ("twelve hundred", 1200), ("two thousand twenty four", 2024),
    ("three thousand four hundred", 3400), ("1,200", 1200), ("about 40", 40),
    ("the third", 3), ("twenty first", 21), ("5th", 5), ("nothing", None),
])
def test_numbers(text: str, number: int | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(("text", "day"), [
    ("today", date(2025, 6, 4)),
    ("tomorrow", date(2025, 6, 5)),
    ("the day after tomorrow", date(2025, 6, 6)),
    ("Friday", date(2025, 6, 6)),
    ("this Friday", date(2025, 6, 6)),
    ("next Tuesday", date(2025, 6, 10)),
    ("next Wednesday", date(2025, 6, 11)),  # today is Wednesday: a week ahead
    ("Monday next week", date(2025, 6, 9)),
    ("next week on Friday", None),  # "next week" then an unmarked weekday: see below
    ("Tuesday after next", date(2025, 6, 17)),
    ("in three days", date(2025, 6, 7)),
    ("in a week", date(2025, 6, 11)),
    ("two weeks from today", date(2025, 6, 18)),
    ("December third", date(2025, 12, 3)),
    ("december 3rd", date(2025, 12, 3)),
    ("the third of December", date(2025, 12, 3)),
    ("3 December", date(2025, 12, 3)),
    ("June first", date(2026, 6, 1)),  # passed this year: next year
    ("June 4", date(2025, 6, 4)),
    ("Dec 3rd 2026", date(2026, 12, 3)),
    ("march fifth twenty twenty six", date(2026, 3, 5)),
    ("the 5th", date(2025, 6, 5)),
    ("on the second", date(2025, 7, 2)),
    ("the thirty first", date(2025, 7, 31)),
    ("6/20", date(2025, 6, 20)),
    ("2025-07-01", date(2025, 7, 1)),
    ("February thirtieth", None),
    ("I may come", None),
    ("whenever", None),
])
def test_dates(text: str, day: date | None) -> None:
    if text == "next week on Friday":
        assert parse_date(text, WEDNESDAY) == date(2025, 6, 6)  # documented: the next Friday
        return
    assert parse_date(text, WEDNESDAY) == day


@pytest.mark.parametrize(("text", "at"), [
    ("two thirty pm", time(14, 30)), ("2:30 p.m.", time(14, 30)), ("2:30", time(14, 30)),
    ("half past ten", time(10, 30)), ("quarter to three", time(14, 45)),
    ("quarter past four", time(16, 15)), ("ten past nine", time(9, 10)),
    ("twenty to five", time(16, 40)), ("noon", time(12, 0)), ("midnight", time(0, 0)),
    ("ten o'clock", time(10, 0)), ("ten in the morning", time(10, 0)),
    ("three in the afternoon", time(15, 0)), ("9 am", time(9, 0)), ("9am", time(9, 0)),
    ("ten oh five", time(10, 5)), ("fourteen thirty", time(14, 30)),
    ("twelve thirty", time(12, 30)), ("12 am", time(0, 0)), ("at eleven", time(11, 0)),
    ("two", time(14, 0)), ("seven fifteen", time(7, 15)), ("1430", time(14, 30)),
    # Whisper's spellings of spoken times
    ("Tuesday at 230 pm", time(14, 30)), ("at 1030", time(10, 30)),
    ("1030 in the morning", time(10, 30)), ("at to thirty", time(14, 30)),
    ("at too p.m.", time(14, 0)), ("I want to come at 3", time(15, 0)),
    ("sometime", None), ("I want to come", None),
    # A bare hour only alone or with fillers: a sentence with a number is no time.
    ("two please", time(14, 0)), ("um, two is fine", time(14, 0)),
    ("one moment please", None), ("give me one second", None), ("I have two kids", None),
    ("two, two,", time(14, 0)),  # Whisper's echo of a lone word
    ("to 30 in the afternoon.", time(14, 30)), ("to be honest I don't know", None),
])
def test_times(text: str, at: time | None) -> None:
    assert parse_time(text) == at


def test_a_time_inside_a_date_needs_an_anchor() -> None:
    assert parse_time("June 5", bare=False) is None
    assert parse_time("June 5 at 3", bare=False) == time(15, 0)
    assert parse_time("next Tuesday at two thirty pm", bare=False) == time(14, 30)


@pytest.mark.parametrize(("rules", "text", "dtmf", "result"), [
    (SlotRules(SlotType.YES_NO), "", "1", Filled(True)),
    (SlotRules(SlotType.YES_NO), "", "2", Filled(False)),
    (SlotRules(SlotType.YES_NO), "", "5", None),
    (SlotRules(SlotType.DIGITS, min_length=4), "five five", "",
     Rejected("55", "fewer than 4 digits")),
    (SlotRules(SlotType.DIGITS, max_length=4), "", "12345#",
     Rejected("12345", "more than 4 digits")),
    (SlotRules(SlotType.DIGITS), "", "12345#", Filled("12345")),
    (SlotRules(SlotType.NUMBER, minimum=1, maximum=10), "twelve", "", Rejected(12, "above 10")),
    (SlotRules(SlotType.NUMBER), "", "42", Filled(42)),
    (SlotRules(SlotType.DATE, future=True), "today", "", Rejected(WEDNESDAY, "not after today")),
    (SlotRules(SlotType.DATE, with_time=True), "Friday at noon", "",
     Filled(date(2025, 6, 6), time(12, 0))),
    (SlotRules(SlotType.DATE), "Friday", "", Filled(date(2025, 6, 6))),
    (SlotRules(SlotType.DATE), "", "1203", Filled(date(2025, 12, 3))),
    (SlotRules(SlotType.TIME), "", "930", Filled(time(9, 30))),
    (SlotRules(SlotType.TEXT), "  my cat is sick ", "", Filled("my cat is sick")),
    (SlotRules(SlotType.TEXT), "", "", None),
])
def test_slot_rules(rules: SlotRules, text: str, dtmf: str, result: object) -> None:
    assert parse_slot(rules, text=text, dtmf=dtmf, today=WEDNESDAY) == result


@pytest.mark.parametrize(("text", "digits"), [
    ("four five one two", "4512"), ("4512", "4512"), ("zero", "0"), ("Seven.", "7"),
    ("five oh one", "501"), ("my account number is five five five one two three four",
                             "5551234"),
    ("uh, it's four five one two, thanks", "4512"), ("I think it's four five one two", "4512"),
    # Whisper wrote the group as a numeral and misheard a filler: its 7 digits count.
    ("My count number is 5551234.", "5551234"),
    # Sentences with a number in them are no digit string.
    ("one moment please", None), ("It's worth eight dollars.", None),
    ("Seventeen, no, eighteen days ago.", None), ("This is 1880. This is 1880.", None),
    ("She can scoop these things into three red bags.", None),
    ("For the twentieth time that evening the two men shook hands.", None),
    ("oh", None), ("no", None), ("yes", None), ("please try again", None),
])
def test_a_digit_slot_takes_digit_strings_only(text: str, digits: str | None) -> None:
    found = parse_slot(SlotRules(SlotType.DIGITS), text=text, today=WEDNESDAY)
    assert found == (Filled(digits) if digits else None)
