"""YAML to plain Python, remembering the line of every key and item.

    data, lines = load_with_lines(text, "clinic.yaml")
    lines.line_of(("states", "greet", "say"))  -> 12

Shared by every hand-written YAML file whose errors must name file:line
(dialog flows, the ACD's agents and queues). Differences from
``yaml.safe_load``, all on purpose for such files:
mapping keys are always strings (``yes:`` and ``no:`` stay "yes" and "no"),
only ``true``/``false`` are booleans (YAML 1.1's yes/no/on/off stay text),
times like 09:30 stay text (not base-60 numbers), and a key given twice is
an error instead of a silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class YamlError(ValueError):
    """Malformed YAML, with the 1-based `line` where it was found."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class LineMap:
    """The line of each path (keys and list indexes from the document root)."""

    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


def _scalar(node: ScalarNode) -> Any:
    if node.tag == _BOOL_TAG and node.value.lower() not in ("true", "false"):
        return node.value
    if node.tag in _NUMBER_TAGS and ":" in node.value:
        return node.value  # YAML 1.1 reads 09:30 as 570 (base 60); keep the time as text
    return SafeConstructor().construct_object(node)


def _convert(node: Node, path: Path, lines: LineMap) -> Any:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlError("a key must be plain text", key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key in result:
                raise YamlError(f"key {key!r} given twice", key_node.start_mark.line + 1)
            lines.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*path, key), lines)
        return result
    if isinstance(node, SequenceNode):
        return [_convert(item, (*path, i), lines) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return _scalar(node)


def load_with_lines(text: str, name: str = "<flow>") -> tuple[Any, LineMap]:
    """Parse one YAML document; raises YamlError with the line of a syntax error."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML in {name}: {exc}", 1) from None
    lines = LineMap()
    if root is None:
        return None, lines
    return _convert(root, (), lines), lines
