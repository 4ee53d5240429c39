"""How much of the machine this process may use, for pools sized to it."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BeforeValidator, Field


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, e.g. a container's
    cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _per_core(value: object) -> object:
    return usable_cores() if value is None else value


#: A pool's worker count; null (the default) is one worker per usable core.
WorkersPerCore = Annotated[int, BeforeValidator(_per_core), Field(ge=1, le=64)]
