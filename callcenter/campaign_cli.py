"""``callcenter campaign``: outbound campaigns from the command line.

    callcenter campaign create config/campaigns/reminders.yaml   # create or update
    callcenter campaign import clinic-reminders contacts.csv     # all rows or none
    callcenter campaign start clinic-reminders                   # serve dials it
    callcenter campaign pause clinic-reminders                   # resume: start again
    callcenter campaign status clinic-reminders [--json]
    callcenter campaign export clinic-reminders [--attempts] [-o results.csv]

A campaign file with mistakes is refused with one ``file:line: what`` per
problem; a contacts file with bad rows with one ``file: row N, column C:
why`` per row, and nothing is imported.

A node pauses a campaign whose abandonment rate goes over 3 %
(`outbound.abandonment`); ``status`` shows the rate and why it paused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from callcenter.dnc_cli import opened_store, store_options
from outbound.campaign_spec import trunk_problem

if TYPE_CHECKING:
    from callcenter.core.store import Store
    from outbound.campaign_spec import CampaignSpec

#: Contacts files with more rows than this get a progress bar.
PROGRESS_ROWS = 2000


def load_campaign_file(path: Path) -> CampaignSpec:
    """The campaign defined in ``path``; `acd.config_problems.AcdConfigError`
    (a ``SettingsError``) lists every problem with its ``file:line``."""
    from pydantic import ValidationError

    from acd.config_problems import AcdConfigError, read_yaml, validation_problems
    from outbound.campaign_spec import CampaignSpec

    data, lines = read_yaml(path)
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise AcdConfigError(validation_problems(exc, lines, path)) from None


def _campaign_record(store: Store, name: str) -> Any:
    record = store.campaigns.campaign(name)
    if record is None:
        known = ", ".join(c.name for c in store.campaigns.campaigns()) or "none yet"
        raise click.ClickException(f"no campaign named {name!r} (campaigns: {known})")
    return record


@click.group()
def campaign() -> None:
    """Outbound campaigns: define, import contacts, start, pause, follow."""


@campaign.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_options
def create(file: Path, config_file: Path | None, data_dir: Path | None) -> None:
    """Create the campaign FILE defines, or update it (its state stays)."""
    from callcenter.core.errors import SettingsError

    try:
        spec = load_campaign_file(file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    with opened_store(config_file, data_dir) as (settings, store):
        problem = trunk_problem(spec.caller_id, spec.trunk, settings.sip.trunks)
        if problem is not None:
            click.echo(f"warning: {spec.name}: {problem}; this node will not dial it", err=True)
        created = store.campaigns.put_campaign(spec.name, spec.store_values(str(file)),
                                               datetime.now(UTC))
    click.echo(f"campaign {spec.name} {'created' if created else 'updated'}")


@campaign.command(name="import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_options
def import_contacts(name: str, file: Path, config_file: Path | None,
                    data_dir: Path | None) -> None:
    """Add the contacts of the CSV FILE to campaign NAME: every row or none."""
    from tqdm import tqdm

    from outbound.contacts_csv import ContactsCsvError, read_contacts

    now = datetime.now(UTC)
    with opened_store(config_file, data_dir) as (_settings, store):
        record = _campaign_record(store, name)
        rows = _count_lines(file)
        show = rows > PROGRESS_ROWS
        with tqdm(total=rows, desc=f"checking {file.name}", unit="row", disable=not show,
                  leave=False) as bar:
            try:
                contacts = read_contacts(file, record.contact_fields, now=now,
                                         known_numbers=store.campaigns.numbers(name),
                                         on_row=lambda: bar.update(1))
            except ContactsCsvError as exc:
                raise click.ClickException(f"nothing imported; fix these rows:\n{exc}") from None
        with tqdm(total=len(contacts), desc="importing", unit="contact", disable=not show,
                  leave=False) as bar:
            def advance(done: int) -> None:
                bar.update(done - bar.n)

            added = store.campaigns.import_contacts(name, contacts, at=now, first_due=now,
                                                    evidence=file.name, progress=advance)
        consents = sum(1 for c in contacts if c.consent_kind != "none")
    click.echo(f"{added} contact(s) imported into {name} ({consents} with a consent)")


def _count_lines(file: Path) -> int:
    with open(file, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


@campaign.command()
@click.argument("name")
@store_options
def start(name: str, config_file: Path | None, data_dir: Path | None) -> None:
    """Let the nodes dial campaign NAME (within its active dates); also resumes."""
    with opened_store(config_file, data_dir) as (settings, store):
        record = _campaign_record(store, name)
        problem = trunk_problem(record.caller_id, record.trunk, settings.sip.trunks)
        if problem is not None:
            click.echo(f"warning: {name}: {problem}; this node will not dial it", err=True)
        store.campaigns.set_state(name, "running", datetime.now(UTC))
    click.echo(f"campaign {name} running")


@campaign.command()
@click.argument("name")
@store_options
@click.option("--now", "now_text", metavar="ISO",
              help="The moment the abandonment rate is measured at (UTC ISO; default: now).")
@click.pass_context
def resume(ctx: click.Context, name: str, config_file: Path | None,
           data_dir: Path | None, now_text: str | None) -> None:
    """Dial campaign NAME again after a pause (the same as start). A campaign
    whose abandonment rate is still over 3 % pauses again at its next
    abandoned call."""
    from callcenter.campaign_report import abandonment

    with opened_store(config_file, data_dir) as (_settings, store):
        _campaign_record(store, name)
        rate = abandonment(store, name, _moment(now_text))
    if rate.over_limit:
        click.echo(f"warning: {name}: abandonment rate {rate.describe()} is over the limit; "
                   "the next abandoned call pauses it again", err=True)
    ctx.invoke(start, name=name, config_file=config_file, data_dir=data_dir)


@campaign.command()
@click.argument("name")
@store_options
def pause(name: str, config_file: Path | None, data_dir: Path | None) -> None:
    """Stop dialling campaign NAME; calls under way finish."""
    with opened_store(config_file, data_dir) as (_settings, store):
        _campaign_record(store, name)
        store.campaigns.set_state(name, "paused", datetime.now(UTC))
    click.echo(f"campaign {name} paused")


@campaign.command()
@click.argument("name")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--now", "now_text", metavar="ISO",
              help="The moment to report for (UTC ISO time; default: now), as the "
                   "dialer's outbound.clock_start would see it.")
def status(name: str, config_file: Path | None, data_dir: Path | None, as_json: bool,
           now_text: str | None) -> None:
    """Where campaign NAME stands: state (and why it is paused), contacts,
    attempts by outcome, the abandonment rate over 30 days, and the next
    moment the dialing rules allow one of its pending calls."""
    from callcenter.campaign_report import abandonment, next_window, paused_reason
    from compliance.store_dial_facts import StoreDialFacts

    now = _moment(now_text)
    with opened_store(config_file, data_dir) as (settings, store):
        record = _campaign_record(store, name)
        counts = store.campaigns.counts(name)
        due = store.campaigns.next_due(name)
        rate = abandonment(store, name, now)
        attempts = store.campaigns.attempts(name)
        facts = StoreDialFacts.of(store, settings.node.data_dir)
        window = next_window(record, attempts, store.campaigns.contacts(name), facts, now)
    summary: dict[str, Any] = {
        "campaign": name, "state": record.state, "message_kind": record.message_kind,
        "active": {"from": record.active_from.isoformat(),
                   "until": record.active_until.isoformat(), "time_zone": record.time_zone},
        "contacts": counts.pop("contacts"), "pending": counts.pop("pending"),
        "in_flight": counts.pop("in_flight"), "outcomes": dict(sorted(counts.items())),
        "next_due": None if due is None else due.isoformat(),
        "paused_reason": paused_reason(record),
        "abandonment": rate.to_dict(), "next_allowed": window, "now": now.isoformat()}
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{name}: {record.state}, {record.message_kind}, active "
               f"{record.active_from}..{record.active_until} ({record.time_zone})")
    if summary["paused_reason"]:
        click.echo(f"paused by the dialer: {summary['paused_reason']}")
    click.echo(f"contacts {summary['contacts']}, attempts pending {summary['pending']}, "
               f"in flight {summary['in_flight']}"
               + (f", next due {due:%Y-%m-%d %H:%M:%S} UTC" if due else ""))
    click.echo(f"abandonment rate {rate.describe()}"
               + (": over the limit" if rate.over_limit else ""))
    if window is None:
        click.echo("next allowed window: none (nothing pending may be dialled)")
    else:
        click.echo(f"next allowed window: {'now' if window['now'] else window['at']}"
                   + (f" ({window['why_not_now']})" if window["why_not_now"] else ""))
    for outcome, count in summary["outcomes"].items():
        click.echo(f"  {outcome:10} {count}")


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO time", param_hint="--now") from None
    if moment.utcoffset() is None:
        raise click.BadParameter("give the UTC offset, e.g. 2026-01-13T15:00:00Z",
                                 param_hint="--now")
    return moment.astimezone(UTC)


@campaign.command()
@click.argument("name")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              show_default=True, help="Write the CSV here ('-': standard output).")
@click.option("--attempts", "per_attempt", is_flag=True,
              help="One row per attempt, with its decision trail, instead of per contact.")
@store_options
def export(name: str, output: Any, per_attempt: bool, config_file: Path | None,
           data_dir: Path | None) -> None:
    """Per contact of campaign NAME: its result (confirmed, rescheduled with
    when, opted out, machine message left, busy after N attempts, blocked with
    the rules' reason ...), whether a live answer was abandoned, and its last
    attempt, as CSV in the order of the imported rows; with --attempts every
    attempt with the dialing rules' decision (why it was dialled or not)."""
    import csv

    from callcenter.campaign_report import (
        ATTEMPT_COLUMNS,
        CONTACT_COLUMNS,
        attempt_rows,
        contact_rows,
    )

    with opened_store(config_file, data_dir) as (_settings, store):
        _campaign_record(store, name)
        contacts = store.campaigns.contacts(name)
        attempts = store.campaigns.attempts(name)
    writer = csv.writer(output)
    writer.writerow(ATTEMPT_COLUMNS if per_attempt else CONTACT_COLUMNS)
    writer.writerows((attempt_rows if per_attempt else contact_rows)(contacts, attempts))
