"""How a caller turn is endpointed: one definition for the node, the recognizer and the dialog.

:class:`EndpointerConfig` holds every endpointing setting and its default,
written here and nowhere else:

- a node's defaults are the ``asr.endpointing`` settings section, validated
  with this model; ``config/settings.yaml`` documents every key and ships
  these same values (``tests/core/test_listening.py`` keeps them equal);
- :class:`asr.endpointing.Endpointer` runs on one;
- the dialog merges a flow's and a state's ``listen`` over the node's in one
  place, :func:`dialog.listening.listen_settings`, and hands the result to
  the recognizer with each turn (``dialog.ports.ListenSettings.endpointing``).

A ``None`` keeps its meaning on the way: ``no_input_timeout_ms: None`` is
"no no-input timeout" wherever it is read.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EndpointerConfig(BaseModel):
    """Endpointing of one caller turn; every value is in milliseconds.

    Invalid values raise :class:`pydantic.ValidationError` (a ValueError).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Voiced time within start_window_ms that opens an utterance.
    start_ms: int = Field(160, gt=0)
    start_window_ms: int = Field(300, gt=0)
    # Voiced time that stops a prompt (barge-in); may still be a cough.
    barge_in_confirm_ms: int = Field(100, ge=20)
    # Silence that ends an answer that looks complete, and one that does not.
    end_silence_ms_complete: int = Field(270, gt=0)
    end_silence_ms_incomplete: int = Field(1000, gt=0)
    # With no hint from a transcript, answers with less voice count as complete.
    short_answer_ms: int = Field(800, ge=0)
    # Voiced time that makes an utterance (reported, transcribed); less is a click.
    min_speech_ms: int = Field(220, ge=0)
    # An utterance is cut (and transcribed) at this length.
    max_utterance_ms: int = Field(15000, gt=0)
    # Nothing said this long after a turn starts: NoInput. None: no timeout.
    no_input_timeout_ms: int | None = Field(8000, gt=0)
    # Audio kept from before the first voiced frame of an utterance.
    preroll_ms: int = Field(300, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> EndpointerConfig:
        if self.start_ms > self.start_window_ms:
            raise ValueError("need start_ms <= start_window_ms")
        if self.max_utterance_ms <= self.start_window_ms:
            raise ValueError("max_utterance_ms must exceed start_window_ms")
        return self
