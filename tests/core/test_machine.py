"""Pools sized to the machine: a null worker count is one per usable core."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from asr.settings import AsrSettings
from callcenter.core.machine import usable_cores
from tts.settings import TtsSettings


def test_usable_cores_are_the_process_affinity() -> None:
    assert usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("section", [AsrSettings, TtsSettings])
def test_null_workers_are_one_per_core_and_a_number_is_kept(
        section: type[AsrSettings] | type[TtsSettings]) -> None:
    assert section().workers == section(workers=None).workers == usable_cores()
    assert section(workers=3).workers == 3
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        section(workers=0)
