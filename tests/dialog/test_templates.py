"""Prompt templates: fields, formats, safety, and the values written to records."""

from __future__ import annotations

from datetime import date, time

import pytest

from dialog.templates import (
    FieldRef,
    TemplateError,
    render,
    render_data,
    spoken_date,
    spoken_time,
    template_fields,
)

VARIABLES: dict[str, object] = {
    "appointment": {"doctor": "Doctor Patel", "date": "2025-06-10", "time": "14:30"},
    "new_date": date(2025, 12, 3), "new_time": time(9, 5), "ok": True, "code": "5512",
    "nothing": None,
}


@pytest.mark.parametrize(("template", "text"), [
    ("With {appointment.doctor}.", "With Doctor Patel."),
    ("On {appointment.date:spoken} at {appointment.time:spoken}.",
     "On Tuesday, June tenth at two thirty PM."),
    ("On {appointment.date}.", "On 2025-06-10."),  # record text is left as it is
    ("{new_date} at {new_time}", "Wednesday, December third at nine oh five AM"),
    ("{new_date:iso} {new_time:iso}", "2025-12-03 09:05"),
    ("Code {code:digits}.", "Code 5 5 1 2."),
    ("{ok}", "yes"),
    ("[{missing}{nothing}{appointment.colour}]", "[]"),
    ("Braces {{like this}}", "Braces {like this}"),
])
def test_render(template: str, text: str) -> None:
    assert render(template, VARIABLES, today=date(2025, 6, 4)) == text


def test_spoken_values() -> None:
    assert spoken_date(date(2026, 1, 2), today=date(2025, 6, 4)) == "Friday, January second, 2026"
    assert spoken_time(time(12, 0)) == "noon" and spoken_time(time(0, 0)) == "midnight"
    assert spoken_time(time(9, 0)) == "nine AM" and spoken_time(time(23, 45)) == (
        "eleven forty five PM")


def test_data_keeps_types_and_writes_iso() -> None:
    assert render_data("{new_date}", VARIABLES) == "2025-12-03"
    assert render_data("{new_time}", VARIABLES) == "09:05"
    assert render_data("{ok}", VARIABLES) is True
    assert render_data("on {new_date}", VARIABLES) == "on 2025-12-03"


def test_fields_are_listed_for_static_checks() -> None:
    assert template_fields("{a} {b.c:spoken}") == [FieldRef("a", None, ""),
                                                   FieldRef("b", "c", "spoken")]


@pytest.mark.parametrize("template", [
    "{unclosed", "{a!r}", "{a[0]}", "{a.b.c}", "{}", "{a:>10}", "{a.__class__.__init__}",
])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        template_fields(template)


def test_fields_never_reach_python_attributes() -> None:
    assert render("{new_date.year}", VARIABLES) == ""
