"""The recorded human speech of ``shared/testdata/real-speech-en``.

224 clips (8 kHz mono PCM16, telephone band, 41 speakers; see the folder's
README): read sentences (``vctk``, ``arctic``, ``cathy``, ``ljspeech``),
the words yes / no / stop / go and digits (``sc``, ``fsdd``). For tuning
and measuring only: never shipped.
"""

from __future__ import annotations

import csv
import wave
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT

REAL_SPEECH = ROOT.parent / "shared" / "testdata" / "real-speech-en"
RATE = 8000


@dataclass(frozen=True)
class Clip:
    """One recorded utterance and what its manifest says of it."""

    file: str
    set: str  # the source corpus: sc, fsdd, vctk, arctic, cathy, ljspeech
    kind: str  # "word", "digit" or "sentence"
    slot: str  # the expected slot value of a word or digit ("yes", "7"), else ""
    transcript: str
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE


def load_clips(data: Path = REAL_SPEECH) -> list[Clip]:
    """Every clip, in manifest order; FileNotFoundError when the data is absent."""
    if not (data / "manifest.tsv").is_file():
        raise FileNotFoundError(f"no real speech at {data} (shared/testdata/real-speech-en)")
    clips = []
    with (data / "manifest.tsv").open(encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            with wave.open(str(data / row["file"])) as wav:
                if wav.getframerate() != RATE or wav.getnchannels() != 1:
                    raise ValueError(f"{row['file']}: expected {RATE} Hz mono")
                pcm = wav.readframes(wav.getnframes())
            clips.append(Clip(row["file"], row["set"], row["kind"], row["slot"] or "",
                              row["transcript"], pcm))
    return clips
