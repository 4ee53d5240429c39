"""Errors in the agents and queues files, each naming ``file:line``.

    data, lines = read_yaml(path)                 # AcdConfigError on bad YAML
    try:
        spec = AgentsSpec.model_validate(data)
    except ValidationError as exc:
        raise AcdConfigError(validation_problems(exc, lines, path)) from None

Every problem found is reported, not only the first: `AcdConfigError.problems`
lists them and the message has one ``file:line: where: what is wrong`` per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from callcenter.core.errors import SettingsError
from callcenter.core.yaml_lines import LineMap, YamlError, load_with_lines
from callcenter.core.yaml_lines import Path as KeyPath


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with an agents or queues file, and where."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class AcdConfigError(SettingsError):
    """The agents or queues file is invalid; `problems` says where and why."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.path), p.line))
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: KeyPath) -> str:
    """``("queues", "billing", "max_wait_s")`` as ``queues.billing.max_wait_s``."""
    return ".".join(str(part) for part in loc)


def problem_at(path: Path, lines: LineMap, loc: KeyPath, message: str) -> ConfigProblem:
    """A problem at key path `loc` (or its nearest ancestor found in the file)."""
    where = f"{dotted(loc)}: " if loc else ""
    return ConfigProblem(path, lines.line_of(loc), where + message)


def read_yaml(path: Path) -> tuple[dict[str, Any], LineMap]:
    """The mapping in `path` and the line of each key; AcdConfigError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AcdConfigError([ConfigProblem(path, 1, f"cannot read the file: {exc}")]) from None
    try:
        data, lines = load_with_lines(text, str(path))
    except YamlError as exc:
        raise AcdConfigError([ConfigProblem(path, exc.line, str(exc))]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AcdConfigError([ConfigProblem(path, 1, "the file must be a mapping of keys")])
    return data, lines


def validation_problems(exc: ValidationError, lines: LineMap, path: Path) -> list[ConfigProblem]:
    """Pydantic's errors as problems at the lines of the keys they concern.

    Parts of an error's location that are not keys of the file (tags of a
    union member, such as ``transfer`` in ``at_limit.transfer.uri``) are left out.
    """
    problems: list[ConfigProblem] = []
    seen: set[tuple[KeyPath, str]] = set()
    for error in exc.errors():
        kind = error["type"]
        loc: KeyPath = ()
        for part in error["loc"]:
            if (*loc, part) in lines.lines:
                loc = (*loc, part)
        if kind == "missing" and error["loc"]:
            loc = (*loc, error["loc"][-1])  # the key, absent from the file
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "union_tag_invalid":
            ctx = error.get("ctx", {})
            message = (f"unknown {str(ctx.get('discriminator', 'kind')).strip(chr(39))} "
                       f"{ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}")
        if kind == "extra_forbidden" and loc and loc[-1] == error["loc"][-1]:
            line = lines.line_of(loc)
            message, loc = f"unknown key {loc[-1]!r}", loc[:-1]
        elif kind == "missing" and loc:
            message, loc = f"missing key {loc[-1]!r}", loc[:-1]
            line = lines.line_of(loc)
        else:
            line = lines.line_of(loc)
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        where = f"{dotted(loc)}: " if loc else ""
        problems.append(ConfigProblem(path, line, where + message))
    return problems
