"""When an upset caller needs a human: a pure policy over the call's scores.

:class:`EscalationPolicy` looks at one call's scored utterances (the
kernel's :class:`~callcenter.core.speech.UtteranceScores`: tone and pace
from the raw audio, words from the transcript) and answers with an
:class:`EscalationDecision`: escalate or not, why (``"words"``, ``"tone"``
or ``"pace"``, checked in that order) and the scores that triggered it. It
keeps no state and does no I/O: the same history always gives the same
decision. :class:`EscalationWatch` is one call's history as the dialog
hears it (the runner keeps one per call; ``bench/escalation.py`` drives the
same class).

The rules, each switchable (``null`` turns one off; ``enabled: false`` all):

- words: one utterance whose word score reaches ``words`` (by default
  profanity, or asking for a supervisor or manager);
- tone: ``tone.k`` of the last ``tone.n`` scored utterances at or above
  ``tone.threshold``, or a single one at or above ``tone.single``;
- pace: ``pace.k`` of the last ``pace.n`` scored utterances at or above
  ``pace.threshold``.

Baseline utterances (the caller's first ones) never count for tone or pace.
The defaults are checked on EmoDB calls, each speaker scored with the tone
models tuned on the other speakers (``bench/escalation.py``). A flow sets
them under ``escalation: upset:`` (:class:`dialog.flow.UpsetSpec`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.core.speech import CallTrend, UtteranceScores
from dialog.agitation_words import word_signal

UpsetReason = Literal["words", "tone", "pace"]
Score = float


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalRule(_Model):
    """``k`` of the last ``n`` scored utterances at or above ``threshold``
    (null: the rule is off)."""

    threshold: float | None = Field(..., gt=0.0, le=1.0)
    k: int = Field(..., ge=1, le=20)
    n: int = Field(..., ge=1, le=20)

    @model_validator(mode="after")
    def _k_within_n(self) -> SignalRule:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        return self


class ToneRule(SignalRule):
    """The k-of-n rule, plus ``single``: one utterance at or above it is enough."""

    single: float | None = Field(None, gt=0.0, le=1.0)


class EscalationConfig(_Model):
    """Thresholds of the escalation policy; every score is in 0..1."""

    enabled: bool = True
    words: float | None = Field(1.0, gt=0.0, le=1.0)
    tone: ToneRule = ToneRule(threshold=0.4, k=3, n=4, single=0.5)
    pace: SignalRule = SignalRule(threshold=0.95, k=3, n=4)


@dataclass(frozen=True)
class EscalationDecision:
    """The policy's answer. When ``escalate`` is true, ``reason`` says which
    rule fired and ``scores`` / ``utterances`` hold the scores of that signal
    that reached the threshold and the indexes of their utterances."""

    escalate: bool
    reason: UpsetReason | None = None
    scores: tuple[Score, ...] = ()
    utterances: tuple[int, ...] = ()
    detail: str = ""
    word_hits: tuple[str, ...] = ()


NO_ESCALATION = EscalationDecision(escalate=False)


class EscalationPolicy:
    """Decides from a call's scored utterances; pure, so share one freely."""

    def __init__(self, config: EscalationConfig | None = None) -> None:
        self.config = config or EscalationConfig()

    def decide(self, history: Sequence[UtteranceScores]) -> EscalationDecision:
        """Escalate now? `history` is the call's utterances, oldest first."""
        config = self.config
        if not config.enabled or not history:
            return NO_ESCALATION
        latest = history[-1]
        if config.words is not None and latest.words >= config.words:
            return EscalationDecision(
                True, "words", (latest.words,), (latest.index,),
                f"words {', '.join(latest.word_hits) or 'score'} reached {config.words}",
                latest.word_hits)
        scored = [s for s in history if not s.baseline]
        single = config.tone.single
        if single is not None and scored and scored[-1].tone >= single:
            return EscalationDecision(True, "tone", (scored[-1].tone,), (scored[-1].index,),
                                      f"one utterance's tone reached {single}")
        tone = _k_of_n(scored, "tone", config.tone)
        if tone is not None:
            return tone
        return _k_of_n(scored, "pace", config.pace) or NO_ESCALATION


def _k_of_n(scored: list[UtteranceScores], reason: Literal["tone", "pace"],
            rule: SignalRule) -> EscalationDecision | None:
    if rule.threshold is None:
        return None
    window = scored[-rule.n:]
    high = [s for s in window if getattr(s, reason) >= rule.threshold]
    if len(high) < rule.k:
        return None
    return EscalationDecision(
        True, reason, tuple(getattr(s, reason) for s in high), tuple(s.index for s in high),
        f"{len(high)} of the last {len(window)} utterances' {reason} reached {rule.threshold}")


class EscalationWatch:
    """One call's caller as the dialog hears them: scores in, decisions out.

    :meth:`hear` takes the tone/pace scores of the utterances heard since
    the last turn (oldest first; the turn's own last) and the turn's
    words, adds the word score to the last, and asks the policy. Not
    thread-safe; one per call.
    """

    def __init__(self, config: EscalationConfig | None = None) -> None:
        self.policy = EscalationPolicy(config)
        self.history: list[UtteranceScores] = []

    def hear(self, voice: Sequence[UtteranceScores], text: str = "") -> EscalationDecision:
        """Add these utterances (and the words of the last) and decide."""
        words = word_signal(text)
        heard = list(voice)
        if not heard:  # words without measured audio (a test, a text channel)
            heard = [UtteranceScores(index=len(self.history), end_s=0.0, tone=0.0, pace=0.0,
                                     baseline=True)]
        if words.score:
            heard[-1] = dataclasses.replace(heard[-1], words=words.score,
                                            word_hits=words.hits)
        self.history.extend(heard)
        return self.policy.decide(self.history)

    def trend(self, last: int = 4) -> CallTrend:
        """The call's agitation trend so far."""
        return CallTrend.of(self.history, last)
