"""Prompt templates: ``str.format`` fields over the call's variables, read aloud well.

    "{appointment.patient_name}, see you on {appointment.date:spoken} at {new_time}."

A field is a variable name, optionally one attribute of a record variable
(``{appointment.doctor}``), optionally a format:

    spoken   dates as "Tuesday, June tenth", times as "two thirty PM", both as
             "Tuesday, June tenth at two thirty PM", booleans as yes/no; ISO
             strings ("2025-06-10", "14:30", "2025-06-10 14:30") are parsed first
    iso      dates as 2025-06-10, times as 14:30
    digits   each digit on its own ("5 5 5 1"), for numbers read back

Without a format, dates and times are spoken in prompts and ISO in data (the
values an `update` action writes). Fields resolve through dictionaries only,
never Python attributes or indexes, so a template cannot reach into objects.
A missing variable renders as nothing. `template_fields` lists the fields for
the loader's static checks.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from num2words import num2words

from callcenter.core.spoken import say_time

FORMATS = frozenset({"", "spoken", "iso", "digits"})
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that cannot be parsed or uses an unknown format."""


@dataclass(frozen=True)
class FieldRef:
    """One ``{name.attribute:format}`` field of a template."""

    name: str
    attribute: str | None
    format: str


def template_fields(text: str) -> list[FieldRef]:
    """The fields of `text`; raises TemplateError on bad syntax or an unknown format."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"bad template {text!r}: {exc}") from None
    fields: list[FieldRef] = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if conversion or not field or "[" in field or field.count(".") > 1:
            raise TemplateError(
                f"bad field {{{field}}}: use {{name}} or {{record.field}}, optionally :format")
        if spec not in FORMATS:
            raise TemplateError(
                f"unknown format {spec!r} in {{{field}:{spec}}}; known: "
                f"{', '.join(sorted(f for f in FORMATS if f))}")
        name, _, attribute = field.partition(".")
        fields.append(FieldRef(name, attribute or None, spec or ""))
    return fields


def _resolve(variables: Mapping[str, object], ref: FieldRef) -> object:
    value = variables.get(ref.name)
    if ref.attribute is None:
        return value
    return value.get(ref.attribute) if isinstance(value, Mapping) else None


def _as_date_or_time(value: object) -> object:
    # A date first: datetime.fromisoformat would read "2025-06-10" as its midnight.
    if isinstance(value, str):
        for parse in (date.fromisoformat, time.fromisoformat, datetime.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                continue
    return value


def spoken_date(value: date, today: date | None = None) -> str:
    """ "Tuesday, June tenth", with the year when it is not this year's.

    Unlike :func:`callcenter.core.spoken.say_date` (year only when over six
    months away), a flow names the year of any date in another year: "January
    second" said in December must not be heard as eleven months ago.
    The year stays in digits; the speaking side reads it as a year.
    """
    text = f"{value:%A}, {value:%B} {num2words(value.day, to='ordinal')}"
    if today is not None and value.year != today.year:
        text += f", {value.year}"
    return text


def spoken_time(value: time) -> str:
    """ "two thirty PM", "ten oh five AM", "nine AM", "noon", "midnight"
    (compound numbers unhyphenated, as everywhere in templates)."""
    return say_time(value).replace("-", " ")


def format_value(value: object, fmt: str, *, spoken: bool, today: date | None = None) -> str:
    """`value` as text in format `fmt` ("" picks spoken or iso by `spoken`)."""
    if value is None:
        return ""
    if fmt == "digits":
        return " ".join(ch for ch in str(value) if not ch.isspace())
    if fmt == "spoken":
        value = _as_date_or_time(value)
    if fmt == "spoken" or (fmt == "" and spoken):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, datetime):
            return f"{spoken_date(value.date(), today)} at {spoken_time(value.time())}"
        if isinstance(value, date):
            return spoken_date(value, today)
        if isinstance(value, time):
            return spoken_time(value)
        return str(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render(text: str, variables: Mapping[str, object], *, spoken: bool = True,
           today: date | None = None) -> str:
    """Fill the fields of `text` from `variables` (see the module doc)."""
    out: list[str] = []
    for literal, field, spec, _conversion in _FORMATTER.parse(text):
        out.append(literal)
        if field is not None:
            name, _, attribute = field.partition(".")
            ref = FieldRef(name, attribute or None, spec or "")
            out.append(format_value(_resolve(variables, ref), ref.format, spoken=spoken,
                                    today=today))
    return "".join(out)


def render_data(text: str, variables: Mapping[str, object]) -> object:
    """A value to store: a lone field keeps its type (ISO for dates), else rendered text."""
    fields = template_fields(text)
    if len(fields) == 1 and text.strip() == _field_text(fields[0]):
        value = _resolve(variables, fields[0])
        if isinstance(value, date | time):
            return format_value(value, "iso", spoken=False)
        return value
    return render(text, variables, spoken=False)


def _field_text(ref: FieldRef) -> str:
    inner = ref.name + (f".{ref.attribute}" if ref.attribute else "")
    return "{" + inner + (f":{ref.format}" if ref.format else "") + "}"
