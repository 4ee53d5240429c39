"""The ``callcenter`` command: serve, drain, dial, calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from callcenter.api_cli import (
    agents,
    api_options,
    client,
    monitor,
    queues,
    show_live_calls,
    watch,
)
from callcenter.campaign_cli import campaign
from callcenter.core.errors import CallCenterError, SettingsError
from callcenter.core.settings import Settings, load_settings
from callcenter.dnc_cli import dnc
from callcenter.outbound_cli import outbound
from callcenter.users_cli import users

if TYPE_CHECKING:
    from callcenter.core.store import Store

log = logging.getLogger("callcenter")

_config_option = click.option("--config", "config_file", type=click.Path(path_type=Path),
                              help="Settings file merged over the shipped defaults.")
_data_dir_option = click.option("--data-dir", type=click.Path(path_type=Path),
                                help="Folder for the SQLite store and recordings.")


def _settings(config_file: Path | None, **overrides: Any) -> Settings:
    chosen = {k: v for k, v in overrides.items() if v is not None}
    try:
        return load_settings(config_file, overrides=chosen)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def _store(config_file: Path | None, data_dir: Path | None) -> Iterator[Store]:
    """The node's store, migrated; store errors become clear CLI errors."""
    from callcenter.core.store import Store

    settings = _settings(config_file, **{"node.data_dir": data_dir})
    store = Store(settings.store_url)
    try:
        store.migrate()
        yield store
    except CallCenterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Chatty at INFO: alembic per migration, faster-whisper per recognition.
    for chatty in ("alembic", "faster_whisper"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


@click.group()
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def main(ctx: click.Context, log_level: str) -> None:
    """A voice call-center engine: SIP calls in and out, recorded and journaled."""
    _logging(log_level)


@main.command()
@_config_option
@click.option("--sip-host", help="Address to listen on (default from settings).")
@click.option("--sip-port", type=int, help="SIP port for UDP and TCP (0 = any free port).")
@_data_dir_option
def serve(config_file: Path | None, sip_host: str | None, sip_port: int | None,
          data_dir: Path | None) -> None:
    """Run the engine: Ctrl-C (SIGINT) stops at once; SIGTERM (or `callcenter
    drain`) refuses new calls, lets live ones end within
    engine.drain_timeout_s, then stops."""
    from callcenter.engine import Engine

    settings = _settings(config_file, **{"sip.host": sip_host, "sip.port": sip_port,
                                         "node.data_dir": data_dir})

    async def run() -> None:
        engine = Engine(settings)
        try:
            facts = await engine.start()
        except BaseException:
            await engine.stop()
            raise
        port = facts.udp_port or facts.tcp_port
        await engine.run(on_serving=lambda: click.echo(
            f"callcenter: serving on sip:{facts.host}:{port} "
            f"(capacity {engine.node.capacity if engine.node else 0} calls, "
            f"data in {settings.node.data_dir})", err=True))

    try:
        asyncio.run(run())
    except CallCenterError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_config_option
@_data_dir_option
@click.option("--node", "node_name", help="Name of the node to drain (needed when several "
              "nodes serve from the data folder).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the node has stopped.")
@click.option("--timeout", type=float,
              help="Seconds to wait (default: engine.drain_timeout_s + 30).")
def drain(config_file: Path | None, data_dir: Path | None, node_name: str | None, wait: bool,
          timeout: float | None) -> None:
    """Drain a node serving from this host's data folder, then let it stop.

    Sends SIGTERM to the `callcenter serve` whose pid file is in
    <data_dir>/run/: it answers new INVITEs and OPTIONS 503, gives live
    calls engine.drain_timeout_s to end, hangs up the rest and exits 0.
    """
    from callcenter.node_registry import running_nodes

    settings = _settings(config_file, **{"node.data_dir": data_dir})
    nodes = running_nodes(settings.node.data_dir)
    if node_name is not None:
        if node_name not in nodes:
            raise click.ClickException(f"no node {node_name!r} is serving from "
                                       f"{settings.node.data_dir} (running: {sorted(nodes)})")
        nodes = {node_name: nodes[node_name]}
    if not nodes:
        raise click.ClickException(f"no node is serving from {settings.node.data_dir}")
    if len(nodes) > 1:
        raise click.ClickException(f"several nodes serve from {settings.node.data_dir}: "
                                   f"{sorted(nodes)}; choose one with --node")
    [(name, pid)] = nodes.items()
    os.kill(pid, signal.SIGTERM)
    click.echo(f"node {name} (pid {pid}) is draining", err=True)
    if not wait:
        return
    limit = timeout if timeout is not None else settings.engine.drain_timeout_s + 30
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if name not in running_nodes(settings.node.data_dir):
            click.echo(f"node {name} has stopped", err=True)
            return
        time.sleep(0.2)
    raise click.ClickException(f"node {name} (pid {pid}) still running after {limit:.0f} s")


@main.command()
@click.argument("uri")
@_config_option
@click.option("--wav", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="WAV file to play into the call.")
@click.option("--dtmf", default="", help="Digits to send (RFC 4733) after the answer.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Write what the caller hears to this WAV.")
@click.option("--duration", type=float, help="Seconds to stay in the call (default: the "
              "WAV's length plus 0.5 s, at least 3 s).")
@click.option("--say", help="Speak this (Piper voice) after the engine's first prompt.")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML list of steps: say, dtmf, wait, wait_prompt, wav, hold, hangup.")
@click.option("--from", "from_user", default="1000", show_default=True,
              help="Calling number (user part of From); the demo knows 1000.")
@click.option("--transcribe/--no-transcribe", default=True, show_default=True,
              help="With a script: transcribe what was heard (Whisper) into the conversation.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def dial(uri: str, config_file: Path | None, wav: Path | None, dtmf: str,
         record: Path | None, duration: float | None, say: str | None, script: Path | None,
         from_user: str, transcribe: bool, as_json: bool) -> None:
    """Call URI as a test caller (e.g. sip:100@127.0.0.1:5060)."""
    from callcenter.caller_script import load_script, steps_for_say
    from callcenter.test_caller import bind_address_for
    from callcenter.test_caller import dial as run_dial

    settings = _settings(config_file, **{"sip.host": bind_address_for(uri), "sip.port": 0,
                                         "sip.rtp_port": 0, "sip.trunks": [],
                                         "sip.local_user": from_user})
    steps = None
    try:
        if script is not None:
            steps = load_script(script)
        elif say is not None:
            steps = steps_for_say(say)
    except CallCenterError as exc:
        raise click.ClickException(str(exc)) from None
    outcome = asyncio.run(run_dial(settings, uri, wav=wav, dtmf=dtmf, record=record,
                                   duration=duration, script=steps, transcribe=transcribe))
    if as_json:
        click.echo(json.dumps(outcome.to_dict()))
    else:
        for turn in outcome.conversation:
            click.echo(f"{turn['at']:6.1f}s {turn['speaker']:>6}: {turn['text']}")
        click.echo(f"{outcome.status} (SIP {outcome.sip_code})"
                   + (f", codec {outcome.codec}, heard {outcome.heard_seconds:.1f} s"
                      if outcome.status == "answered" else f": {outcome.error}"))
    if outcome.status != "answered":
        sys.exit(2)


@main.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--live", is_flag=True, help="The engine's live calls (control API) instead.")
@api_options
def calls(limit: int, live: bool, api_url: str | None, token: str | None,
          node_name: str | None, config_file: Path | None, data_dir: Path | None,
          as_json: bool) -> None:
    """Recent calls from the store, newest first (--json: one JSON object per line);
    --live: the calls a running engine has now."""
    if live:
        show_live_calls(client(api_url, token, node_name, config_file, data_dir), as_json)
        return
    with _store(config_file, data_dir) as store:
        records = store.recent_calls(limit)
    for record in records:
        if as_json:
            click.echo(json.dumps(record.to_dict()))
            continue
        took = (f"{(record.ended_at - record.started_at).total_seconds():6.1f}s"
                if record.ended_at else "  open ")
        click.echo(f"{record.started_at:%Y-%m-%d %H:%M:%S} {record.id[:8]} "
                   f"{record.direction:8} {took} {record.end_reason or '-':14} "
                   f"{record.sip_code or '-':>3} {record.from_uri} -> {record.to_uri}")
    if not records and not as_json:
        click.echo("no calls yet")


@main.command()
@click.argument("call_id")
@_config_option
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per turn.")
def transcript(call_id: str, config_file: Path | None, data_dir: Path | None,
               as_json: bool) -> None:
    """The turns of a call (CALL_ID may be a unique prefix)."""
    with _store(config_file, data_dir) as store:
        turns = store.turns_for(_one_call(store, call_id))
    for turn in turns:
        if as_json:
            click.echo(json.dumps(turn.to_dict()))
            continue
        extra = f"  [{turn.intent}" + (f" {turn.confidence:.2f}" if turn.confidence else "") + "]"
        cut = turn.data.get("cut")
        cut_note = f"  [cut: {cut} after {turn.data.get('played_s')} s]" if cut else ""
        click.echo(f"{turn.started_at:%H:%M:%S} {turn.speaker:>6} ({turn.state}): {turn.text}"
                   + (extra if turn.intent else "") + cut_note)


@main.command()
@click.argument("call_id")
@_config_option
@_data_dir_option
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: time, kind, data (and the event and call ids).")
def events(call_id: str, config_file: Path | None, data_dir: Path | None,
           as_json: bool) -> None:
    """The stored events of a call, oldest first (CALL_ID may be a unique prefix)."""
    with _store(config_file, data_dir) as store:
        records = store.events_for(_one_call(store, call_id))
    for record in records:
        if as_json:
            click.echo(json.dumps(record.to_dict()))
        else:
            click.echo(f"{record.at:%H:%M:%S.%f}"[:-3] + f" {record.kind:10} "
                       + json.dumps(record.data, sort_keys=True))


def _one_call(store: Store, call_id: str) -> str:
    """The id of the one call whose id starts with `call_id`, or a clear error."""
    matches = store.find_calls(call_id)
    if len(matches) != 1:
        raise click.ClickException(
            f"no call with id {call_id!r}" if not matches else
            f"{len(matches)} calls start with {call_id!r}; give more of the id")
    return matches[0].id


main.add_command(outbound)
main.add_command(dnc)
main.add_command(users)
for _api_command in (agents, queues, monitor, watch):
    main.add_command(_api_command)
main.add_command(campaign)
