"""The import rules of DESIGN.md, enforced.

Each top-level package may import only the packages its row allows; nothing
imports the composition root (``callcenter`` outside ``callcenter.core``);
only ``sip`` imports pjsua2.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"kernel", "callcenter", "sip", "asr", "tts", "dialog", "outbound", "compliance",
           "acd", "config"}

ALLOWED: dict[str, set[str]] = {
    "kernel": {"config"},
    "sip": {"kernel", "config"},
    "asr": {"kernel", "config"},
    "tts": {"kernel", "config"},
    "dialog": {"kernel"},
    "outbound": {"kernel", "compliance"},
    "compliance": {"kernel"},
    "acd": {"kernel"},
    "config": set(),
    "callcenter": PROJECT,
}


def _layer(module: str) -> str | None:
    if module == "callcenter.core" or module.startswith("callcenter.core."):
        return "kernel"
    top = module.split(".")[0]
    return top if top in PROJECT else None


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _sources() -> Iterator[tuple[str, Path]]:
    for package in ("callcenter", "sip", "asr", "tts", "dialog", "outbound", "compliance",
                    "acd", "config"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield module, path


SOURCES = list(_sources())


@pytest.mark.parametrize(("module", "path"), SOURCES, ids=[m for m, _ in SOURCES])
def test_imports_follow_the_design(module: str, path: Path) -> None:
    own = _layer(module)
    assert own is not None
    for line, imported in _imports(path):
        if imported.split(".")[0] == "pjsua2":
            assert own == "sip", f"{path}:{line}: only sip/ may import pjsua2"
            continue
        target = _layer(imported)
        if target is None or target == own:
            continue
        assert target in ALLOWED[own], (
            f"{path}:{line}: {own} may not import {imported} ({target}); "
            f"allowed: {sorted(ALLOWED[own])}")


def test_rules_cover_every_package() -> None:
    assert {_layer(m) for m, _ in SOURCES} <= set(ALLOWED)
    assert len(SOURCES) > 20
