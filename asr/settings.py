"""Settings of the listening side (the ``asr:`` section).

The kernel's ``Settings`` may not import ``asr``, so it keeps this section
raw; the composition root validates it with
``settings.section("asr", AsrSettings)``, whose errors name the setting and
its file and line. :func:`asr_settings` validates a bare mapping (tools,
tests) with the same kind of message.

``asr.endpointing`` is the kernel's
:class:`callcenter.core.listening.EndpointerConfig`, where every
endpointing default is defined once; a dialog state's ``listen`` merges
over it in :func:`dialog.listening.listen_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from callcenter.core.errors import SettingsError
from callcenter.core.listening import EndpointerConfig
from callcenter.core.machine import WorkersPerCore, usable_cores


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndOfTurnSettings(_Section):
    """Whether a turn is over, judged from the caller's voice at the first pause
    (:mod:`asr.end_of_turn`); the transcript's punctuation decides when off."""

    enabled: bool = True
    # Probability of "finished" at or above which the short end silence applies.
    threshold: float = Field(0.5, gt=0, lt=1)
    # smart-turn v3 ONNX file; None: the one the pipecat-ai package ships.
    model: Path | None = None
    # onnxruntime threads per decision (one decision per pause).
    threads: int = Field(1, ge=1)


class AsrSettings(_Section):
    """The recognizer, the VAD and the default endpointing of a node."""

    # A CTranslate2 Whisper model directory; None: the bundled tiny.en.
    model: Path | None = None
    # ISO code for multilingual models; None: English for *.en models,
    # detected per utterance otherwise (one more encoder pass).
    language: str | None = None
    compute_type: str = "int8"
    # Threads per worker, and workers: concurrent recognitions on the node
    # (null: one per core).
    cpu_threads: int = Field(1, ge=1)
    workers: WorkersPerCore = Field(default_factory=usable_cores)
    beam_size_partial: int = Field(1, ge=1)
    beam_size_final: int = Field(2, ge=1)
    # Shortest encoder window in seconds, for finals and for partials;
    # longer audio widens it up to 30. 30 = faster-whisper's own padding.
    # bench/asr_wer.py measures what a shorter window costs in accuracy.
    window_s: float = Field(10.0, ge=5.0, le=30.0)
    partial_window_s: float = Field(30.0, ge=5.0, le=30.0)
    # Finals longer than this decode with timestamps: the decoder then marks
    # where the speech ends, which stops tiny.en echoing a sentence ("...
    # please try again, please try again") and lets it resume after an
    # early stop; shorter ones (single words, batched) decode without.
    timestamps_after_s: float = Field(2.0, gt=0)
    # Temperatures a final may fall back to (partials decode greedily, once).
    # One: on the 224 recorded human clips the fallback (0.0, 0.4, 0.8) gave
    # the same WER (10.6 %) and doubled the decode of short words, where
    # Whisper's log-probability test fails most (see config/settings.yaml).
    temperatures: tuple[float, ...] = (0.0,)
    # Finals decoded together when more wait than workers are free (one
    # encoder and decoder call; 1 = each alone). See asr/final_batch.py.
    final_batch: int = Field(4, ge=1, le=16)
    # Decoding stops after this many tokens per second of audio (plus 16).
    max_tokens_per_s: float = Field(8.0, gt=0)
    # How a dialog state's hints bias recognition. Off: on recorded human
    # speech both ways of biasing tiny.en made it worse (isolated words 28
    # of 34 right unbiased, 13 with the yes/no state's hints as hotwords:
    # "yes" came back "yes yes yes"), see config/settings.yaml.
    bias: Literal["hotwords", "prompt", "off"] = "off"
    partial_interval_ms: int = Field(600, ge=100)
    # Partial transcripts only feed live displays (events), so by default
    # they are decoded only while someone watches the call ("watched": an
    # API or `callcenter watch` subscriber; always with MQTT, whose
    # subscribers cannot be seen); "always" or "off".
    partials: Literal["watched", "always", "off"] = "watched"
    # Silence after which the utterance's final is decoded speculatively.
    pause_probe_ms: int = Field(80, ge=20)
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    # Frames quieter than this are silence whatever webrtcvad says (it
    # otherwise hangs on ~100 ms past the speech); null: webrtcvad alone.
    vad_energy_floor_dbfs: float | None = Field(-55.0, le=0)
    endpointing: EndpointerConfig = EndpointerConfig()
    end_of_turn: EndOfTurnSettings = EndOfTurnSettings()

    @field_validator("bias", "partials", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare ``off`` as false: take it as meant."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _temperatures(self) -> AsrSettings:
        if not self.temperatures or any(t < 0 or t > 1.5 for t in self.temperatures):
            raise ValueError("temperatures: one or more values within 0..1.5")
        return self


def asr_settings(raw: Mapping[str, Any] | None, *, origin: str = "settings") -> AsrSettings:
    """Validate the ``asr:`` section; a bad value raises SettingsError naming it."""
    try:
        return AsrSettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = ".".join(["asr", *(str(p) for p in first["loc"])])
        raise SettingsError(f"invalid setting {setting!r} ({origin}): {first['msg']}") from None
