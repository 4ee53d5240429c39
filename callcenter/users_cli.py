"""``callcenter users``: who may use the control API, and their tokens.

    callcenter users add ana --role supervisor       # prints the token, once
    callcenter users add 1001 --role agent           # an agent user (agent 1001)
    callcenter users add dana --role agent --agent 1001
    callcenter users list [--json]
    callcenter users remove ana                      # the token stops working at once

Users live in the store (``api_users``): only a hash of each token is kept,
so a lost token cannot be shown again; remove the user and add them anew.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from callcenter.api.tokens import new_token, token_hash
from callcenter.core.call import utcnow
from callcenter.core.errors import CallCenterError
from callcenter.core.store import API_ROLES
from callcenter.dnc_cli import opened_store, store_options


@click.group()
def users() -> None:
    """Users of the control API: roles agent, supervisor, admin; bearer tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(API_ROLES), required=True,
              help="agent: own state only; supervisor: read all, listen in; admin: all.")
@click.option("--agent", "agent_id", help="The agents file's id of this user (default for "
              "--role agent: NAME); lets a supervisor use their own agent session.")
@store_options
def add(name: str, role: str, agent_id: str | None, config_file: Path | None,
        data_dir: Path | None) -> None:
    """Add user NAME and print their bearer token (shown only this once)."""
    if role == "agent" and agent_id is None:
        agent_id = name
    token = new_token()
    with opened_store(config_file, data_dir) as (_, store):
        try:
            store.api_users.add(name, role, token_hash(token), at=utcnow(), agent_id=agent_id)
        except CallCenterError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"user {name} ({role}{f', agent {agent_id}' if agent_id else ''}) added; "
               "keep the token: it is not shown again", err=True)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@store_options
def list_users(as_json: bool, config_file: Path | None, data_dir: Path | None) -> None:
    """Every user, removed ones marked."""
    with opened_store(config_file, data_dir) as (_, store):
        found = store.api_users.all()
    for user in found:
        if as_json:
            click.echo(json.dumps(user.to_dict()))
            continue
        gone = f"  removed {user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else ""
        click.echo(f"{user.name:20} {user.role:10} {user.agent_id or '-':8} "
                   f"added {user.created_at:%Y-%m-%d %H:%M}{gone}")
    if not found and not as_json:
        click.echo("no API users yet: callcenter users add NAME --role ROLE")


@users.command("remove")
@click.argument("name")
@store_options
def remove(name: str, config_file: Path | None, data_dir: Path | None) -> None:
    """Remove user NAME: their token is refused from now on."""
    with opened_store(config_file, data_dir) as (_, store):
        removed = store.api_users.disable(name, at=utcnow())
    if not removed:
        raise click.ClickException(f"no API user {name!r}")
    click.echo(f"user {name} removed", err=True)
