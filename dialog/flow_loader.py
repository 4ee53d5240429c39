"""Load flow files and refuse bad ones with errors that name file and line.

    flows = load_flows(Path("config/flows"))   # {"clinic": Flow, ...}
    flow = load_flow(Path("config/flows/clinic.yaml"))

Every problem found is reported, not only the first: `FlowError.problems`
lists them and the message has one ``file:line: what is wrong`` per line.
Checked: YAML syntax and duplicate keys, unknown keys and wrong types (the
model in `flow`), and across states (`flow_checks`): unknown target states,
unreachable states, listening states without a prompt, menus without DTMF
alternatives, a DTMF key used twice, unknown variables, records, fields and
queues in templates and actions, loops that never listen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from callcenter.core.errors import SettingsError
from callcenter.core.yaml_lines import LineMap, YamlError, load_with_lines
from dialog.flow import Flow, FlowSpec
from dialog.flow_checks import check_flow


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, and where."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class FlowError(SettingsError):
    """A flow file is invalid; `problems` says where and why (one per line of the message)."""

    def __init__(self, problems: Iterable[FlowProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# Union member tags pydantic puts in the location of a `Scalar` value's errors.
_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_problems(exc: ValidationError, lines: LineMap, path: Path) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    seen: set[tuple[str | int, ...]] = set()
    for error in exc.errors():
        # Keep the parts of loc that are real keys/indexes (drop union member tags).
        loc: tuple[str | int, ...] = ()
        dropped: list[str | int] = []
        for part in error["loc"]:
            if (*loc, part) in lines.lines or error["type"] in ("missing", "extra_forbidden"):
                loc = (*loc, part)
            else:
                dropped.append(part)
        if loc in seen:
            continue
        seen.add(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if any(part in _SCALAR_TAGS for part in dropped):
            message = "should be text, a number, true/false or null"
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            loc = loc[:-1] if loc else loc
            line = lines.line_of((*loc, error["loc"][-1]))
        elif error["type"] == "missing":
            message = f"missing key {loc[-1]!r}"
            loc = loc[:-1]
            line = lines.line_of(loc)
        else:
            line = lines.line_of(loc)
        where = f"{_dotted(loc)}: " if loc else ""
        problems.append(FlowProblem(path, line, where + message))
    return sorted(problems, key=lambda p: p.line)


def parse_flow(text: str, path: Path) -> Flow:
    """Check the flow in `text` (read from `path`) and return it; raises FlowError."""
    try:
        data, lines = load_with_lines(text, str(path))
    except YamlError as exc:
        raise FlowError([FlowProblem(path, exc.line, str(exc))]) from None
    if not isinstance(data, dict):
        raise FlowError([FlowProblem(path, 1, "a flow file must be a mapping with "
                                              "'flow', 'start', 'escalation' and 'states'")])
    try:
        spec = FlowSpec.model_validate(data)
    except ValidationError as exc:
        raise FlowError(_validation_problems(exc, lines, path)) from None
    problems = [FlowProblem(path, lines.line_of(where), message)
                for where, message in check_flow(spec)]
    try:
        tz = ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(FlowProblem(path, lines.line_of(("timezone",)),
                                    f"unknown time zone {spec.timezone!r}"))
        tz = ZoneInfo("UTC")
    if problems:
        raise FlowError(sorted(problems, key=lambda p: p.line))
    return Flow(spec=spec, path=path, tz=tz, lines=lines)


def load_flow(path: Path) -> Flow:
    """Read and check one flow file; raises FlowError (also for an unreadable file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([FlowProblem(path, 1, f"cannot read the flow: {exc}")]) from None
    return parse_flow(text, path)


def load_flows(folder: Path) -> dict[str, Flow]:
    """Every ``*.yaml`` flow directly in `folder`, by flow name.

    All files are checked before anything is returned; the error lists the
    problems of every bad file, and a flow name used by two files.
    """
    if not folder.is_dir():
        raise FlowError([FlowProblem(folder, 1, "no such flow folder")])
    flows: dict[str, Flow] = {}
    problems: list[FlowProblem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            flow = load_flow(path)
        except FlowError as exc:
            problems.extend(exc.problems)
            continue
        other = flows.get(flow.name)
        if other is not None:
            problems.append(FlowProblem(path, flow.lines.line_of(("flow",)),
                                        f"flow name {flow.name!r} is also used by {other.path}"))
            continue
        flows[flow.name] = flow
    if problems:
        raise FlowError(problems)
    return flows
