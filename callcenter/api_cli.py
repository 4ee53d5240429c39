"""``callcenter agents | queues | monitor`` (and ``calls --live``): the control API
from the command line.

    callcenter agents                                  # every agent's live state
    callcenter agents 1001 --ready                     # or --not-ready break, --wrap-up-done
    callcenter agents 1003 --log-in                    # on-demand agents: --log-in, --log-out
    callcenter queues [NAME]                           # waiting, longest wait, agents by state
    callcenter calls --live                            # the node's live calls
    callcenter monitor CALL_ID --mode listen --phone sip:sup@host   # prints the monitor id
    callcenter monitor MONITOR_ID --set-mode barge     # or --stop; no id: active monitors
    callcenter watch [--topic 'calls/+/queue']         # live events until Ctrl-C

They talk to a running engine's API: ``--api URL`` (or CALLCENTER_API), by
default the one node serving from this host's data folder (its URL is in
``<data_dir>/run/<node>.api``), with ``--token`` (or CALLCENTER_TOKEN) from
``callcenter users add``. Tables for people; ``--json`` for machines.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.api.client import ApiClient, ApiError
from callcenter.core.errors import SettingsError
from callcenter.core.settings import load_settings

F = TypeVar("F", bound=Callable[..., Any])
MONITOR_TIMEOUT_S = 90.0  # a supervisor's phone rings before the answer comes


def api_options(command: F) -> F:
    """``--api``, ``--token``, ``--node``, ``--config``, ``--data-dir``, ``--json``."""
    for option in reversed([
        click.option("--api", "api_url", envvar="CALLCENTER_API",
                     help="The engine's API URL [env CALLCENTER_API; default: the node "
                          "serving from the data folder]."),
        click.option("--token", envvar="CALLCENTER_TOKEN",
                     help="Bearer token from `callcenter users add` [env CALLCENTER_TOKEN]."),
        click.option("--node", "node_name", help="Which local node (when several serve)."),
        click.option("--config", "config_file", type=click.Path(path_type=Path),
                     help="Settings file merged over the shipped defaults."),
        click.option("--data-dir", type=click.Path(path_type=Path),
                     help="Data folder of the local node."),
        click.option("--json", "as_json", is_flag=True, help="JSON instead of a table."),
    ]):
        command = option(command)
    return command


def client(api_url: str | None, token: str | None, node_name: str | None,
           config_file: Path | None, data_dir: Path | None) -> ApiClient:
    """A client of `api_url`, or of the one local node's API."""
    return ApiClient(api_url or local_api_url(config_file, data_dir, node_name), token)


def local_api_url(config_file: Path | None, data_dir: Path | None,
                  node_name: str | None) -> str:
    """The API URL a node serving from this host's data folder wrote at start."""
    from callcenter.api.server import url_file
    from callcenter.node_registry import running_nodes

    overrides = {} if data_dir is None else {"node.data_dir": data_dir}
    try:
        settings = load_settings(config_file, overrides=overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    folder = settings.node.data_dir
    nodes = sorted(running_nodes(folder))
    if node_name is not None:
        if node_name not in nodes:
            raise click.ClickException(f"no node {node_name!r} serves from {folder} "
                                       f"(running: {nodes}); or give --api URL")
        nodes = [node_name]
    if not nodes:
        raise click.ClickException(f"no engine is serving from {folder}: start `callcenter "
                                   "serve`, or give --api URL (or CALLCENTER_API)")
    if len(nodes) > 1:
        raise click.ClickException(f"several nodes serve from {folder}: {nodes}; choose one "
                                   "with --node, or give --api URL")
    try:
        return url_file(folder, nodes[0]).read_text().strip()
    except OSError:
        raise click.ClickException(f"node {nodes[0]} has no control API (api.enabled is "
                                   "false?); or give --api URL") from None


def call(action: Callable[[], Any]) -> Any:
    """Run one request; an ApiError becomes a clear CLI error."""
    try:
        return action()
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in r]
                                          for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def ago(iso: str | None) -> str | None:
    """How long ago an ISO time was, as ``1m05s``."""
    if iso is None:
        return None
    seconds = max(0, int((datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()))
    return seconds_text(seconds)


def seconds_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else render(data))


@click.command()
@click.argument("agent_id", required=False)
@click.option("--ready", "action", flag_value="ready", help="Set the agent ready.")
@click.option("--not-ready", "reason", metavar="REASON",
              help="Set the agent not ready for REASON (break, lunch...).")
@click.option("--wrap-up-done", "action", flag_value="wrap_up_done",
              help="End the agent's wrap-up (ready again).")
@click.option("--log-in", "action", flag_value="log_in",
              help="Log an on-demand agent in (not ready until --ready).")
@click.option("--log-out", "action", flag_value="log_out", help="Log an on-demand agent out.")
@api_options
def agents(agent_id: str | None, action: str | None, reason: str | None, api_url: str | None,
           token: str | None, node_name: str | None, config_file: Path | None,
           data_dir: Path | None, as_json: bool) -> None:
    """Agents and their live state; with AGENT_ID and an action, change it."""
    api = client(api_url, token, node_name, config_file, data_dir)
    if reason is not None:
        action = "not_ready"
    if action is not None:
        if agent_id is None:
            raise click.UsageError("which agent? give AGENT_ID")
        body = {"action": action, "reason": reason}
        found = [call(lambda: api.request("POST", f"/v1/agents/{agent_id}/state", body))]
    elif agent_id is not None:
        found = [call(lambda: api.get(f"/v1/agents/{agent_id}"))]
    else:
        found = call(lambda: api.get("/v1/agents"))
    emit(found, as_json, lambda rows: table(
        ["AGENT", "NAME", "STATE", "REASON", "FOR", "CALL", "QUEUES"],
        [[a["id"], a["name"], a["state"], a["reason"], ago(a["since"]),
          (a["call_id"] or "")[:8] or None, ",".join(a["queues"])] for a in rows]))


@click.command()
@click.argument("name", required=False)
@api_options
def queues(name: str | None, api_url: str | None, token: str | None, node_name: str | None,
           config_file: Path | None, data_dir: Path | None, as_json: bool) -> None:
    """Queues' live figures: waiting callers, longest wait, agents by state."""
    api = client(api_url, token, node_name, config_file, data_dir)
    found = [call(lambda: api.get(f"/v1/queues/{name}"))] if name else call(
        lambda: api.get("/v1/queues"))
    states = ["ready", "offered", "on_call", "wrap_up", "not_ready"]
    emit(found, as_json, lambda rows: table(
        ["QUEUE", "WAITING", "LONGEST", "EXPECTED", *[s.upper() for s in states]],
        [[q["name"], q["waiting"], seconds_text(q["longest_wait_s"]),
          seconds_text(q["expected_wait_s"]), *[q["agents"].get(s, 0) for s in states]]
         for q in rows]))


def show_live_calls(api: ApiClient, as_json: bool) -> None:
    """``callcenter calls --live``: the node's live calls, oldest first."""
    found = call(lambda: api.get("/v1/calls"))
    if as_json:
        for item in found:
            click.echo(json.dumps(item))
        return
    if not found:
        click.echo("no live calls")
        return
    click.echo(table(
        ["CALL", "DIRECTION", "STATE", "ACTIVITY", "FOR", "FROM", "TO", "QUEUE", "AGENT",
         "MONITORS"],
        [[c["short_id"], c["direction"], c["state"], c["activity"], ago(c["started_at"]),
          c["caller"], c["callee"],
          f"{c['queue']}#{c['position']}" if c.get("queue") and c.get("position")
          else c.get("queue"), c.get("agent"),
          ",".join(f"{m['supervisor']}:{m['mode']}" for m in c.get("monitors", [])) or None]
         for c in found]))


@click.command()
@click.argument("target", required=False, metavar="[CALL_ID | MONITOR_ID]")
@click.option("--mode", type=click.Choice(["listen", "whisper", "barge"]), default="listen",
              show_default=True, help="Who hears the supervisor: nobody, the agent, both.")
@click.option("--phone", metavar="URI", help="SIP URI the engine rings for you (default: "
              "your own logged-in agent session).")
@click.option("--set-mode", is_flag=True, help="TARGET is a monitor: switch it to --mode.")
@click.option("--stop", is_flag=True, help="TARGET is a monitor: end it.")
@api_options
def monitor(target: str | None, mode: str, phone: str | None, set_mode: bool, stop: bool,
            api_url: str | None, token: str | None, node_name: str | None,
            config_file: Path | None, data_dir: Path | None, as_json: bool) -> None:
    """Listen, whisper or barge into live call CALL_ID (prints the monitor id);
    --set-mode or --stop a monitor; without TARGET, list the active monitors."""
    api = client(api_url, token, node_name, config_file, data_dir)
    if set_mode and stop:
        raise click.UsageError("--set-mode and --stop exclude each other")
    if target is None:
        if set_mode or stop:
            raise click.UsageError("which monitor? give MONITOR_ID")
        found = call(lambda: api.get("/v1/monitors"))
        emit(found, as_json, lambda rows: table(
            ["MONITOR", "CALL", "SUPERVISOR", "MODE", "STATE", "VIA", "SINCE"],
            [[m["monitor_id"], m["call_id"][:8], m["supervisor"], m["mode"], m["state"],
              m["phone"] or m["via"], ago(m["started_at"])] for m in rows]))
        return
    if stop:
        info = call(lambda: api.request("DELETE", f"/v1/monitors/{target}"))
    elif set_mode:
        info = call(lambda: api.request("PATCH", f"/v1/monitors/{target}", {"mode": mode}))
    else:
        info = call(lambda: api.request("POST", "/v1/monitors",
                                        {"call_id": target, "mode": mode, "phone": phone},
                                        timeout=MONITOR_TIMEOUT_S))
    if as_json:
        click.echo(json.dumps(info))
    elif stop:
        click.echo(f"monitor {info['monitor_id']} stopped", err=True)
    else:
        click.echo(info["monitor_id"])
        click.echo(f"{info['mode']} on call {info['call_id'][:8]} ({info['state']})", err=True)


@click.command()
@click.option("--topic", help="MQTT-style pattern below the bus prefix, e.g. calls/+/queue "
              "or agents/1001/# (default: everything; an agent user: their own).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@api_options
def watch(topic: str | None, count: int | None, api_url: str | None, token: str | None,
          node_name: str | None, config_file: Path | None, data_dir: Path | None,
          as_json: bool) -> None:
    """Follow the node's live events as they happen (until Ctrl-C or the engine stops)."""
    api = client(api_url, token, node_name, config_file, data_dir)

    def subscribed() -> None:
        click.echo(f"following {topic or 'events'} at {api.base_url} (Ctrl-C ends)", err=True)

    def follow() -> None:
        for seen, event in enumerate(api.events(topic, subscribed=subscribed), start=1):
            if as_json:
                click.echo(json.dumps(event))
            else:
                at = datetime.fromisoformat(event["at"]).strftime("%H:%M:%S.%f")[:-3]
                click.echo(f"{at} {event['topic']} {json.dumps(event['data'], sort_keys=True)}")
            if count is not None and seen >= count:
                return

    with contextlib.suppress(KeyboardInterrupt):
        call(follow)
