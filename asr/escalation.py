"""When a caller's agitation calls for a human: a pure, configurable policy.

:class:`EscalationPolicy` looks at one call's scored utterances (the
history an :class:`asr.agitation.AgitationTracker` keeps) and answers with
an :class:`EscalationDecision`: escalate or not, why (``"words"``,
``"tone"`` or ``"pace"``, checked in that order) and the scores that
triggered it. It keeps no state and does no I/O: the same history always
gives the same decision, and a dialog state that does not want escalation
simply uses a config with ``enabled=False``.

The rules, each switchable:

- words: one utterance whose word score reaches ``words_threshold``
  (by default profanity, or asking for a supervisor or manager);
- tone: ``tone_k`` of the last ``tone_n`` scored utterances at or above
  ``tone_threshold``, or a single one at or above ``tone_single``;
- pace: ``pace_k`` of the last ``pace_n`` scored utterances at or above
  ``pace_threshold``.

Baseline utterances (the caller's first ones) never count for tone or pace.
The defaults were chosen on half of the EmoDB speakers and checked on the
other half (``bench/escalation.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from asr.agitation import UtteranceScores

Reason = Literal["words", "tone", "pace"]


@dataclass(frozen=True)
class EscalationConfig:
    """Thresholds of the escalation policy; every score is in 0..1.

    ``None`` switches a single rule off; ``enabled=False`` switches off all.
    """

    enabled: bool = True
    words_threshold: float | None = 1.0
    tone_threshold: float | None = 0.4
    tone_k: int = 3
    tone_n: int = 4
    tone_single: float | None = 0.5
    pace_threshold: float | None = 0.95
    pace_k: int = 3
    pace_n: int = 4

    def __post_init__(self) -> None:
        for name in ("words_threshold", "tone_threshold", "tone_single", "pace_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1] or None")
        if not 1 <= self.tone_k <= self.tone_n or not 1 <= self.pace_k <= self.pace_n:
            raise ValueError("need 1 <= k <= n for tone and pace")


@dataclass(frozen=True)
class EscalationDecision:
    """The policy's answer. When ``escalate`` is true, ``reason`` says which
    rule fired and ``scores`` / ``utterances`` hold the scores of that signal
    that reached the threshold and the indexes of their utterances."""

    escalate: bool
    reason: Reason | None = None
    scores: tuple[float, ...] = ()
    utterances: tuple[int, ...] = ()
    detail: str = ""


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
        if config.words_threshold is not None and latest.words >= config.words_threshold:
            return EscalationDecision(
                True, "words", (latest.words,), (latest.index,),
                f"words {', '.join(latest.word_hits) or 'score'} reached "
                f"{config.words_threshold}")
        scored = [s for s in history if not s.baseline]
        if config.tone_single is not None and scored and scored[-1].tone >= config.tone_single:
            return EscalationDecision(True, "tone", (scored[-1].tone,), (scored[-1].index,),
                                      f"one utterance's tone reached {config.tone_single}")
        tone = _k_of_n(scored, "tone", config.tone_threshold, config.tone_k, config.tone_n)
        if tone is not None:
            return tone
        pace = _k_of_n(scored, "pace", config.pace_threshold, config.pace_k, config.pace_n)
        return pace or NO_ESCALATION


def _k_of_n(scored: list[UtteranceScores], reason: Literal["tone", "pace"],
            threshold: float | None, k: int, n: int) -> EscalationDecision | None:
    if threshold is None:
        return None
    window = scored[-n:]
    high = [s for s in window if getattr(s, reason) >= threshold]
    if len(high) < k:
        return None
    return EscalationDecision(
        True, reason, tuple(getattr(s, reason) for s in high), tuple(s.index for s in high),
        f"{len(high)} of the last {len(window)} utterances' {reason} reached {threshold}")
