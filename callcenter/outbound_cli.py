"""``callcenter outbound``: the outbound side's commands (today: ``check``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from compliance.dial_facts import DialFacts


def dial_facts() -> DialFacts:
    """The engine's ``DialFacts``; empty stores until the SQL store implements the port."""
    from compliance.dial_facts import EmptyDialFacts

    return EmptyDialFacts()


@click.group()
def outbound() -> None:
    """Outbound calls: what may be dialled, and when."""


@outbound.command()
@click.option("--case-json", "case_json", metavar="JSON",
              help="The case as one JSON object (see compliance/dial_case_json.py).")
@click.option("--case-file", type=click.File("r", encoding="utf-8"),
              help="Read the case from this file ('-' for standard input).")
def check(case_json: str | None, case_file: TextIO | None) -> None:
    """May this number be dialled now for this campaign? Prints one JSON object.

    The clock is the case's now_utc, never the wall clock. Fields left out
    are taken from the engine's stores. Exits 0 whether the call is allowed
    or not, 2 when the case is malformed.
    """
    from compliance.dial_case import DialCaseError
    from compliance.dial_case_json import answer_json, case_from_json
    from compliance.dialing_rules import decide

    if case_json is not None and case_file is None:
        source, text = "--case-json", case_json
    elif case_file is not None and case_json is None:
        source, text = "--case-file", case_file.read()
    else:
        raise click.UsageError("give exactly one of --case-json and --case-file")
    try:
        case, from_store = case_from_json(text, dial_facts())
    except DialCaseError as exc:
        raise click.BadParameter(str(exc), param_hint=source) from None
    click.echo(json.dumps(answer_json(case, decide(case), from_store)))
