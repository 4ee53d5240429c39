"""Ports for speech: what the conversation needs from recognition and synthesis.

`asr/` and `tts/` implement these; the composition root wires them to calls;
tests use fakes. Audio is always mono PCM16 little-endian at an explicit rate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Transcript:
    """A recognition result for (part of) one utterance."""

    text: str
    is_final: bool
    confidence: float = 0.0  # 0..1, from the recognizer's log-probabilities
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0


class Recognizer(Protocol):
    """Speech to text, one utterance (or its prefix, for a partial) at a time."""

    async def transcribe(self, pcm: bytes, rate: int, *, final: bool,
                         hints: Sequence[str] = ()) -> Transcript | None:
        """Recognize `pcm`. A partial (``final=False``) may be skipped under
        load (returns None); a final never is. `hints` bias recognition
        toward expected words (menu options, names)."""


class Synthesizer(Protocol):
    """Text to speech, streamed sentence by sentence."""

    def stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 at `rate`, one chunk per sentence as soon as it is ready.
        Closing the iterator (or cancelling its consumer) stops synthesis."""
