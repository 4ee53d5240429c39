"""Scripted fakes of the dialog ports (in the spirit of livekit/agents' fake_stt).

A `ScriptedCaller` answers each `listen` with the next scripted turn and
records everything the runner said and how it asked to listen; a script that
runs dry fails the test instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from callcenter.core.errors import CallGone
from dialog.ports import CallerInput, ListenSettings, TransferTarget

HANG_UP = "<hang up>"


def say(text: str, confidence: float = 0.9) -> CallerInput:
    """The caller says `text`."""
    return CallerInput.speech(text, confidence)


def press(keys: str) -> CallerInput:
    """The caller presses `keys`."""
    return CallerInput.dtmf(keys)


SILENCE = CallerInput.no_input()


@dataclass
class ScriptedCaller:
    """`CallerIO` playing a script of caller turns (or HANG_UP)."""

    script: list[CallerInput | str]
    said: list[tuple[str, bool]] = field(default_factory=list)
    listens: list[tuple[tuple[str, ...], ListenSettings]] = field(default_factory=list)
    hung_up: bool = False

    async def say(self, text: str, *, barge_in: bool) -> None:
        self.said.append((text, barge_in))

    async def listen(self, hints: Sequence[str], settings: ListenSettings) -> CallerInput:
        self.listens.append((tuple(hints), settings))
        if not self.script:
            raise AssertionError(f"the runner listened again after: {self.said[-1:]}")
        turn = self.script.pop(0)
        if turn == HANG_UP:
            raise CallGone("caller hung up")
        assert isinstance(turn, CallerInput)
        return turn

    async def hangup(self) -> None:
        self.hung_up = True

    @property
    def texts(self) -> list[str]:
        """What the runner said, in order."""
        return [text for text, _ in self.said]


@dataclass
class FakeTransferrer:
    """Records transfers; `accept` decides whether they succeed."""

    accept: bool = True
    targets: list[TransferTarget] = field(default_factory=list)

    async def transfer(self, target: TransferTarget) -> bool:
        self.targets.append(target)
        return self.accept
