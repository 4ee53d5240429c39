"""Scripts for the test caller: what to say, press and wait for, in order.

A script is a YAML list of steps::

    - wait_prompt: true        # until the engine has spoken and gone quiet
    - say: "I'd like to reschedule"
    - dtmf: "1"
    - wait: 2.5                # seconds
    - hold: 10                 # put the engine on hold this long, then resume
    - hangup: true

``callcenter dial --say TEXT`` is the script ``[wait_prompt, say TEXT,
wait_prompt]``. Errors name the file and the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from callcenter.core.errors import SettingsError

KINDS = ("say", "dtmf", "wait", "wait_prompt", "wav", "hold", "hangup")


@dataclass(frozen=True)
class Step:
    """One step of a caller script."""

    kind: str
    value: Any = None


def steps_for_say(text: str) -> list[Step]:
    """The script of ``--say``: let the engine speak, say `text`, hear the answer."""
    return [Step("wait_prompt"), Step("say", text), Step("wait_prompt")]


def load_script(path: Path) -> list[Step]:
    """Parse a script file; a bad step is an error naming the file and step."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read caller script {path}: {exc}") from None
    if not isinstance(data, list):
        raise SettingsError(f"{path}: a caller script is a list of steps")
    steps = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in KINDS:
            raise SettingsError(f"{path}: step {number} must be one of {', '.join(KINDS)} "
                                f"(got {item!r})")
        kind, value = next(iter(item.items()))
        if kind in ("wait", "hold") and (not isinstance(value, int | float)
                                          or isinstance(value, bool) or value < 0):
            raise SettingsError(f"{path}: step {number}: {kind} needs seconds")
        if kind in ("say", "dtmf", "wav") and not isinstance(value, str | int):
            raise SettingsError(f"{path}: step {number}: {kind} needs text")
        steps.append(Step(kind, str(value) if kind in ("say", "dtmf", "wav") else value))
    return steps
