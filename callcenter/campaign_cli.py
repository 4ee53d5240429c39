"""``callcenter campaign``: outbound campaigns from the command line.

    callcenter campaign create config/campaigns/reminders.yaml   # create or update
    callcenter campaign import clinic-reminders contacts.csv     # all rows or none
    callcenter campaign start clinic-reminders                   # serve dials it
    callcenter campaign pause clinic-reminders                   # resume: start again
    callcenter campaign status clinic-reminders [--json]
    callcenter campaign export clinic-reminders [-o results.csv]

A campaign file with mistakes is refused with one ``file:line: what`` per
problem; a contacts file with bad rows with one ``file: row N, column C:
why`` per row, and nothing is imported.
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
@click.pass_context
def resume(ctx: click.Context, name: str, config_file: Path | None,
           data_dir: Path | None) -> None:
    """Dial campaign NAME again after a pause (the same as start)."""
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
def status(name: str, config_file: Path | None, data_dir: Path | None, as_json: bool) -> None:
    """Where campaign NAME stands: state, contacts, attempts by outcome."""
    with opened_store(config_file, data_dir) as (_settings, store):
        record = _campaign_record(store, name)
        counts = store.campaigns.counts(name)
        due = store.campaigns.next_due(name)
    summary: dict[str, Any] = {
        "campaign": name, "state": record.state, "message_kind": record.message_kind,
        "active": {"from": record.active_from.isoformat(),
                   "until": record.active_until.isoformat(), "time_zone": record.time_zone},
        "contacts": counts.pop("contacts"), "pending": counts.pop("pending"),
        "in_flight": counts.pop("in_flight"), "outcomes": dict(sorted(counts.items())),
        "next_due": None if due is None else due.isoformat()}
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{name}: {record.state}, {record.message_kind}, active "
               f"{record.active_from}..{record.active_until} ({record.time_zone})")
    click.echo(f"contacts {summary['contacts']}, attempts pending {summary['pending']}, "
               f"in flight {summary['in_flight']}"
               + (f", next due {due:%Y-%m-%d %H:%M:%S} UTC" if due else ""))
    for outcome, count in summary["outcomes"].items():
        click.echo(f"  {outcome:10} {count}")


#: Columns of ``campaign export``: the contact, where it stands, and its last attempt.
EXPORT_COLUMNS = ("number", "name", "address_state", "source_row", "result", "result_detail",
                  "attempts", "last_outcome", "last_reason", "last_sip_code", "last_dialed_at",
                  "last_ended_at", "last_call_id", "next_due")


@campaign.command()
@click.argument("name")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              show_default=True, help="Write the CSV here ('-': standard output).")
@store_options
def export(name: str, output: Any, config_file: Path | None, data_dir: Path | None) -> None:
    """Per contact of campaign NAME: its result (or the attempt still due) and
    its last attempt, as CSV, in the order of the imported rows."""
    import csv

    with opened_store(config_file, data_dir) as (_settings, store):
        _campaign_record(store, name)
        contacts = store.campaigns.contacts(name)
        attempts = store.campaigns.attempts(name)
    by_contact: dict[int, list[Any]] = {}
    for attempt in attempts:
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    writer = csv.writer(output)
    writer.writerow(EXPORT_COLUMNS)
    for contact in contacts:
        tries = by_contact.get(contact.id, [])
        dialled = [a for a in tries if a.dialed_at is not None]
        last = next((a for a in reversed(tries) if a.outcome is not None), None)
        due = next((a.next_due for a in tries if a.outcome is None), None)
        writer.writerow([
            contact.number, contact.name or "", contact.address_state or "",
            contact.source_row, contact.result or "", contact.result_detail or "",
            len(dialled), last.outcome if last else "", (last.reason or "") if last else "",
            (last.sip_code or "") if last else "", _iso(last.dialed_at if last else None),
            _iso(last.ended_at if last else None), (last.call_id or "") if last else "",
            _iso(due)])


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()
