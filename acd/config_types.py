"""Value types shared by the agents and queues files, with messages an operator can act on.

Digit strings (agent ids, PINs, DTMF keys, numbers) must be quoted in YAML:
unquoted, ``0042`` is read as a number (octal 34, even) and the leading
zeros are gone, so a number there is refused with a hint instead of being
silently converted.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_AGENT_ID = re.compile(r"^[0-9]{1,10}$")
_PIN = re.compile(r"^[0-9]{4,8}$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DTMF = re.compile(r"^[0-9*#]$")
_HOST = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
_SIP_URI = re.compile(rf"^sips?:(?:[^\s@;]+@)?{_HOST}(?:;\S*)?$")
_TRANSFER_URI = re.compile(rf"^(?:sips?:(?:[^\s@;]+@)?{_HOST}(?:;\S*)?|tel:\+?[0-9\-.()]+)$")


class ConfigModel(BaseModel):
    """Base of the files' models: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _quoted_digits(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError('must be written in quotes (e.g. "0042"): unquoted, YAML reads '
                         "digits as a number and drops leading zeros")
    return value


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(message.format(value=value))
        return value

    return AfterValidator(check)


def _levels(value: Any) -> Any:
    # A plain list of names means "level 1 of each" (any agent with the skill).
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return dict.fromkeys(value, 1)
    return value


Quoted = Annotated[str, BeforeValidator(_quoted_digits)]
AgentId = Annotated[Quoted, _matching(
    _AGENT_ID, "an agent id must be 1 to 10 digits (agents key it in to log in)")]
Pin = Annotated[Quoted, _matching(_PIN, "a PIN must be 4 to 8 digits")]
DtmfKey = Annotated[Quoted, _matching(_DTMF, "{value!r} is no DTMF key: use 0-9, * or #")]
Name = Annotated[str, _matching(
    _NAME, "{value!r} is no valid name: use lowercase letters, digits, '_' and '-', "
    "starting with a letter")]
QueueName = Annotated[str, _matching(
    _QUEUE_NAME, "{value!r} is no valid queue name: use letters, digits, '.', '_' and '-'")]
SipUri = Annotated[str, _matching(
    _SIP_URI, "{value!r} is no SIP URI; expected e.g. sip:1001@10.0.0.5")]
TransferUri = Annotated[str, _matching(
    _TRANSFER_URI, "{value!r} is no sip:, sips: or tel: URI")]
Level = Annotated[int, Field(strict=True, ge=1, le=10)]
# {skill: level}; for a queue the minimum level an agent needs.
Skills = Annotated[dict[Name, Level], BeforeValidator(_levels)]
