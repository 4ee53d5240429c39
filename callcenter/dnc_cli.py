"""``callcenter dnc``: the do-not-call lists from the command line.

    callcenter dnc add +12025550123 --reason "asked on the phone" [--actor ann]
    callcenter dnc remove +12025550123 --reason "added by mistake"
    callcenter dnc import registry.txt --date 2026-01-05     # National DNC snapshot
    callcenter dnc import opt-outs.txt --internal            # onto the internal list
    callcenter dnc check +12025550123 [--campaign c1]        # one JSON object

Numbers may be written as people write them; they are kept in E.164 (US
without a country code). The internal list lives in the store; National DNC
snapshots in ``<data_dir>/dnc/``. Also home of the store options and opener
that ``callcenter outbound`` shares.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from callcenter.core.errors import CallCenterError, SettingsError
from callcenter.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from callcenter.core.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """``--config`` and ``--data-dir``, as the other commands of ``callcenter`` have them."""
    command = click.option("--data-dir", type=click.Path(path_type=Path),
                           help="Folder for the SQLite store and recordings.")(command)
    return click.option("--config", "config_file", type=click.Path(path_type=Path),
                        help="Settings file merged over the shipped defaults.")(command)


@contextlib.contextmanager
def opened_store(config_file: Path | None,
                 data_dir: Path | None) -> Iterator[tuple[Settings, Store]]:
    """The settings and the migrated store; engine errors become clear CLI errors."""
    from callcenter.core.store import Store

    overrides = {} if data_dir is None else {"node.data_dir": data_dir}
    try:
        settings = load_settings(config_file, overrides=overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    store = Store(settings.store_url)
    try:
        store.migrate()
        yield settings, store
    except CallCenterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


def _number(text: str) -> str:
    from compliance.dnc_numbers import DncNumberError, normalize_number

    try:
        return normalize_number(text)
    except DncNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="NUMBER") from None


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


_reason_option = click.option("--reason", help="Why (kept in the audit trail).")
_actor_option = click.option("--actor", default=_actor, show_default="your user name",
                             help="Who made the change (kept in the audit trail).")


@click.group()
def dnc() -> None:
    """Do-not-call lists: the internal list, the National DNC Registry, consents."""


@dnc.command()
@click.argument("number")
@_reason_option
@_actor_option
@store_options
def add(number: str, reason: str | None, actor: str, config_file: Path | None,
        data_dir: Path | None) -> None:
    """Put NUMBER on the internal do-not-call list: no call of any kind reaches it."""
    e164 = _number(number)
    with opened_store(config_file, data_dir) as (_, store):
        added = store.dnc.add(e164, source="cli", actor=actor, reason=reason)
        entry = None if added else store.dnc.entry(e164)
    if entry is None:
        click.echo(f"{e164} added to the internal do-not-call list")
    else:
        click.echo(f"{e164} was already on the internal do-not-call list (since "
                   f"{entry.added_at:%Y-%m-%d %H:%M} UTC, {entry.source}, {entry.actor})")


@dnc.command()
@click.argument("number")
@_reason_option
@_actor_option
@store_options
def remove(number: str, reason: str | None, actor: str, config_file: Path | None,
           data_dir: Path | None) -> None:
    """Take NUMBER off the internal do-not-call list (exit 1 if it is not on it)."""
    e164 = _number(number)
    with opened_store(config_file, data_dir) as (_, store):
        removed = store.dnc.remove(e164, source="cli", actor=actor, reason=reason)
    if not removed:
        raise click.ClickException(f"{e164} is not on the internal do-not-call list")
    click.echo(f"{e164} removed from the internal do-not-call list")


@dnc.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "snapshot_day", type=click.DateTime(["%Y-%m-%d"]),
              help="Day the registry file was downloaded (YYYY-MM-DD); needed for the "
                   "National DNC Registry.")
@click.option("--internal", is_flag=True,
              help="Put the file's numbers on the internal list instead (source: import).")
@_reason_option
@_actor_option
@store_options
def import_file(file: Path, snapshot_day: datetime | None, internal: bool, reason: str | None,
                actor: str, config_file: Path | None, data_dir: Path | None) -> None:
    """Import FILE, one number a line: a National DNC Registry download (the
    default, replacing the current snapshot) or, with --internal, numbers for
    the internal list. A bad line stops the import, nothing imported; prints
    one JSON object."""
    if internal and snapshot_day is not None:
        raise click.UsageError("--date is the registry snapshot's date; not with --internal")
    if not internal and snapshot_day is None:
        raise click.UsageError("give the registry snapshot's date with --date YYYY-MM-DD")
    with opened_store(config_file, data_dir) as (settings, store):
        if internal:
            summary = _import_internal(file, store, actor, reason)
        else:
            assert snapshot_day is not None
            summary = _import_national(file, snapshot_day.date(), settings.node.data_dir)
    click.echo(json.dumps(summary))


def _import_internal(file: Path, store: Store, actor: str, reason: str | None) -> dict[str, Any]:
    from compliance.dnc_numbers import DncNumberError, read_number_file

    try:
        numbers = read_number_file(file)
    except (DncNumberError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from None
    added = store.dnc.add_many(numbers, source="import", actor=actor, reason=reason)
    return {"list": "internal", "file": str(file), "numbers": len(set(numbers)),
            "added": added, "already_listed": len(set(numbers)) - added}


def _import_national(file: Path, snapshot_date: date, data_dir: Path) -> dict[str, Any]:
    from compliance.dnc_registry import SnapshotFolder
    from compliance.dnc_registry_file import RegistryFileError, import_registry_file

    size = file.stat().st_size
    with click.progressbar(length=size, label=f"reading {file.name}",
                           file=sys.stderr) as bar:
        read = 0

        def advance(done: int) -> None:
            nonlocal read
            bar.update(done - read)
            read = done

        try:
            result = import_registry_file(file, snapshot_date, SnapshotFolder.of(data_dir),
                                          progress=advance)
        except RegistryFileError as exc:
            raise click.ClickException(str(exc)) from None
    return {"list": "national", "file": str(file), "snapshot_date": snapshot_date.isoformat(),
            "numbers": result.numbers, "duplicates": result.duplicates,
            "snapshot": str(result.snapshot),
            "dropped_snapshots": [d.isoformat() for d in result.dropped]}


@dnc.command()
@click.argument("number")
@click.option("--campaign", help="Judge consent for this campaign (default: only consents "
              "given for every campaign count).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]),
              help="Day to age the registry snapshot to (default: today, UTC).")
@store_options
def check(number: str, campaign: str | None, today: datetime | None, config_file: Path | None,
          data_dir: Path | None) -> None:
    """Is NUMBER on a do-not-call list, and what consent is on record? Prints one
    JSON object: internal, national, snapshot date and age, consent."""
    from compliance.dialing_rules import NATIONAL_DNC_MAX_AGE
    from compliance.dnc_registry import SnapshotFolder

    e164 = _number(number)
    day = today.date() if today is not None else datetime.now(UTC).date()
    with opened_store(config_file, data_dir) as (settings, store):
        registry = SnapshotFolder.of(settings.node.data_dir).load_current()
        entry = store.dnc.entry(e164)
        consent = store.dnc.strongest_consent(e164, campaign)
        consents = store.dnc.consents(e164)
    age = None if registry is None else registry.age_days(day)
    click.echo(json.dumps({
        "number": e164,
        "internal": entry is not None,
        "internal_entry": None if entry is None else entry.to_dict(),
        "national": registry is not None and registry.contains(e164),
        "snapshot_date": None if registry is None else registry.snapshot_date.isoformat(),
        "snapshot_age_days": age,
        "snapshot_stale": age is None or not 0 <= age <= NATIONAL_DNC_MAX_AGE.days,
        "campaign": campaign,
        "consent": consent,
        "consents": [c.to_dict() for c in consents],
    }))
