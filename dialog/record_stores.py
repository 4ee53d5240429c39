"""An in-memory `RecordStore` (tests, the console demo) and demo seed files.

Records are JSON objects filed under (kind, key); the engine keeps them in
its store (``callcenter.core.store``, table ``records``). Seed files are YAML
``kind -> key -> fields``; a value ``today``, ``today+N`` or ``today-N`` becomes
that day's ISO date, so demo appointments are always in the near future.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from callcenter.core.errors import StoreError
from callcenter.core.yaml_lines import YamlError, load_with_lines

Records = dict[str, dict[str, dict[str, Any]]]
_RELATIVE_DAY = re.compile(r"^today(?:\s*([+-])\s*(\d+))?$")


class InMemoryRecordStore:
    """Records in a dict; `updates` logs every update (for tests)."""

    def __init__(self, records: Records | None = None) -> None:
        self.records: Records = {k: {key: dict(v) for key, v in by_key.items()}
                                 for k, by_key in (records or {}).items()}
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    async def lookup(self, kind: str, key: str) -> dict[str, Any] | None:
        """A copy of the record, or None."""
        found = self.records.get(kind, {}).get(key)
        return dict(found) if found is not None else None

    async def update(self, kind: str, key: str, fields: Mapping[str, Any]) -> None:
        """Merge `fields` into the record (creating it if needed)."""
        self.updates.append((kind, key, dict(fields)))
        self.records.setdefault(kind, {}).setdefault(key, {}).update(fields)


def _resolve_days(value: Any, today: date) -> Any:
    if isinstance(value, str):
        found = _RELATIVE_DAY.match(value.strip())
        if found:
            days = int(found[2] or 0) * (-1 if found[1] == "-" else 1)
            return (today + timedelta(days=days)).isoformat()
    return value


def read_seed(path: Path, today: date) -> Records:
    """Demo records from a seed YAML file (kind -> key -> fields), days resolved."""
    try:
        data, _lines = load_with_lines(path.read_text(encoding="utf-8"), str(path))
    except (OSError, YamlError) as exc:
        raise StoreError(f"cannot read the seed file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StoreError(f"{path}: expected kind -> key -> fields")
    return {str(kind): {str(key): {str(f): _resolve_days(v, today) for f, v in fields.items()}
                        for key, fields in by_key.items()}
            for kind, by_key in data.items()}
