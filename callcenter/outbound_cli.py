"""``callcenter outbound``: the outbound side's commands (today: ``check``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from callcenter.dnc_cli import opened_store, store_options

if TYPE_CHECKING:
    from compliance.dial_facts import DialFacts


@contextlib.contextmanager
def dial_facts(config_file: Path | None, data_dir: Path | None) -> Iterator[DialFacts]:
    """The engine's ``DialFacts``: the node's store and National DNC snapshot."""
    from compliance.store_dial_facts import StoreDialFacts

    with opened_store(config_file, data_dir) as (settings, store):
        yield StoreDialFacts.of(store, settings.node.data_dir)


@click.group()
def outbound() -> None:
    """Outbound calls: what may be dialled, and when."""


@outbound.command()
@click.option("--case-json", "case_json", metavar="JSON",
              help="The case as one JSON object (see compliance/dial_case_json.py).")
@click.option("--case-file", type=click.File("r", encoding="utf-8"),
              help="Read the case from this file ('-' for standard input).")
@store_options
def check(case_json: str | None, case_file: TextIO | None, config_file: Path | None,
          data_dir: Path | None) -> None:
    """May this number be dialled now for this campaign? Prints one JSON object.

    The clock is the case's now_utc, never the wall clock. Fields left out
    are taken from the engine's stores (internal DNC list, consents, the
    National DNC snapshot in <data_dir>/dnc, the campaigns' attempts and
    contacts' addresses). Exits 0 whether the call is allowed or not, 2 when
    the case is malformed, 1 when the stores cannot be read.
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
    with dial_facts(config_file, data_dir) as facts:
        try:
            case, from_store = case_from_json(text, facts)
        except DialCaseError as exc:
            raise click.BadParameter(str(exc), param_hint=source) from None
    click.echo(json.dumps(answer_json(case, decide(case), from_store)))
