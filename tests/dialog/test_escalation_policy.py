"""The escalation policy on scripted scores, the words signal, and its YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.core.speech import UtteranceScores
from dialog.agitation_words import word_signal
from dialog.escalation_policy import (
    EscalationConfig,
    EscalationPolicy,
    EscalationWatch,
    SignalRule,
    ToneRule,
)
from dialog.flow_loader import load_flow
from tests.dialog.test_flow_loader import BASE, problems


def scores(tones: list[float], *, pace: float = 0.0, words: float = 0.0,
           baseline: int = 2) -> list[UtteranceScores]:
    """Scripted history: `baseline` calm utterances, then one per tone."""
    calm = [UtteranceScores(i, float(i), 0.0, 0.0, 0.0, baseline=True) for i in range(baseline)]
    return calm + [UtteranceScores(baseline + i, float(baseline + i), tone, pace, words)
                   for i, tone in enumerate(tones)]


def config(**rules: object) -> EscalationConfig:
    return EscalationConfig.model_validate(rules)


# -- words ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "score"), [
    ("I want to speak to your supervisor.", 1.0),
    ("Get me a manager, now!", 1.0),
    ("This is fucking ridiculous", 1.0),
    ("This is ridiculous.", 0.5),
    ("I want to make a complaint, this is the third time", 1.0),
    ("Hello, I'd like to cancel my appointment.", 0.0),
    ("I feel terrible, the pain is awful.", 0.0),
    ("Yes, Tuesday at nine works.", 0.0),
    ("", 0.0),
])
def test_word_signal(text: str, score: float) -> None:
    assert word_signal(text).score == score


def test_word_signal_names_its_hits() -> None:
    assert word_signal("Supervisor. This is ridiculous").hits == ("supervisor", "ridiculous")


# -- policy -----------------------------------------------------------------


def test_k_of_the_last_n_escalates_on_tone() -> None:
    policy = EscalationPolicy(config(tone={"threshold": 0.4, "k": 2, "n": 3}))
    assert not policy.decide(scores([0.45, 0.1, 0.2])).escalate
    decision = policy.decide(scores([0.45, 0.1, 0.42]))
    assert decision.escalate and decision.reason == "tone"
    assert decision.scores == (0.45, 0.42) and decision.utterances == (2, 4)
    assert not policy.decide(scores([0.45, 0.1, 0.1, 0.42])).escalate  # out of the window


def test_one_very_high_tone_escalates_at_once() -> None:
    policy = EscalationPolicy(config(tone={"threshold": 0.4, "k": 3, "n": 4, "single": 0.7}))
    assert not policy.decide(scores([0.65])).escalate
    decision = policy.decide(scores([0.75]))
    assert decision.reason == "tone" and decision.utterances == (2,)


def test_baseline_utterances_never_escalate_on_tone() -> None:
    history = [UtteranceScores(i, float(i), 0.99, 0.99, 0.0, baseline=True) for i in range(3)]
    assert not EscalationPolicy().decide(history).escalate


def test_words_come_first_and_only_from_the_latest_utterance() -> None:
    policy = EscalationPolicy()
    decision = policy.decide(scores([0.9], words=1.0))
    assert decision.reason == "words" and decision.scores == (1.0,)
    history = scores([0.1], words=1.0) + scores([0.1])[-1:]
    assert not policy.decide(history).escalate


def test_pace_needs_k_of_n() -> None:
    policy = EscalationPolicy(config(pace={"threshold": 0.8, "k": 3, "n": 4}))
    assert not policy.decide(scores([0.0, 0.0], pace=0.9)).escalate
    decision = policy.decide(scores([0.0, 0.0, 0.0], pace=0.9))
    assert decision.reason == "pace" and len(decision.scores) == 3


def test_off_switch_and_single_rules_off() -> None:
    history = scores([0.99, 0.99, 0.99], pace=0.99, words=1.0)
    assert EscalationPolicy().decide(history).escalate
    assert not EscalationPolicy(config(enabled=False)).decide(history).escalate
    assert EscalationPolicy(config(words=None)).decide(history).reason == "tone"
    only_pace = config(words=None, tone={"threshold": None, "k": 1, "n": 1})
    assert EscalationPolicy(only_pace).decide(history).reason == "pace"
    assert not EscalationPolicy().decide([]).escalate


def test_rules_are_validated() -> None:
    with pytest.raises(ValidationError):
        ToneRule(threshold=0.4, k=4, n=3)
    with pytest.raises(ValidationError):
        SignalRule(threshold=1.5, k=1, n=1)
    with pytest.raises(ValidationError):
        config(loudness=0.5)


def test_the_watch_adds_words_to_the_last_utterance_and_keeps_the_trend() -> None:
    watch = EscalationWatch()
    calm = scores([])
    assert not watch.hear(calm[:1], "hello").escalate
    assert not watch.hear(calm[1:], "I'd like to move my appointment").escalate
    assert not watch.hear([UtteranceScores(2, 3.0, 0.3, 0.1)], "tuesday").escalate
    decision = watch.hear([UtteranceScores(3, 4.0, 0.2, 0.1)], "get me your manager")
    assert decision.reason == "words" and decision.word_hits == ("manager",)
    assert watch.history[-1].words == 1.0 and watch.history[-1].tone == 0.2
    trend = watch.trend()
    assert trend.utterances == 2 and trend.peak == 1.0 and trend.slope > 0


def test_words_count_without_measured_audio() -> None:
    assert EscalationWatch().hear([], "this is bullshit").reason == "words"


# -- the flow's YAML --------------------------------------------------------

UPSET = BASE.replace("escalation: {queue: desk}\n", """\
escalation:
  queue: desk
  upset:
    say: Let me get you someone.
    states: [menu]
    priority_boost: 50
    words: null
    tone: {threshold: 0.45, k: 2, n: 3, single: 0.6}
    pace: {threshold: 0.9, k: 2, n: 2}
""")


def test_a_flow_sets_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(UPSET, encoding="utf-8")
    escalation = load_flow(path).spec.escalation
    upset = escalation.upset
    assert upset is not None and upset.priority_boost == 50 and upset.words is None
    assert upset.tone == ToneRule(threshold=0.45, k=2, n=3, single=0.6)
    assert escalation.upset_in("menu", listens=True) is upset
    assert escalation.upset_in("bye", listens=False) is None


def test_without_an_upset_block_there_is_no_live_escalation(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_flow(path).spec.escalation.upset_in("menu", listens=True) is None
    off = UPSET.replace("    words: null\n", "    words: null\n    enabled: false\n")
    path.write_text(off, encoding="utf-8")
    assert load_flow(path).spec.escalation.upset_in("menu", listens=True) is None


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("k: 2, n: 3", "k: 4, n: 3", "bad.yaml:11: escalation.upset.tone: k (4) must not exceed"),
    ("threshold: 0.9", "threshold: 1.5", "bad.yaml:12: escalation.upset.pace.threshold: "
                                         "Input should be less than or equal to 1"),
    ("words: null", "words: loud", "bad.yaml:10: escalation.upset.words: Input should be a "
                                   "valid number"),
    ("words: null", "volume: 3", "bad.yaml:10: escalation.upset: unknown key 'volume'"),
    ("states: [menu]", "states: [menu, nowhere]", "bad.yaml:8: unknown state 'nowhere'"),
    ("states: [menu]", "states: [bye]", "bad.yaml:8: state 'bye' does not listen"),
    ("priority_boost: 50", "queue: nowhere", "bad.yaml:9: unknown queue 'nowhere'"),
])
def test_bad_policy_values_are_named_with_file_and_line(tmp_path: Path, old: str, new: str,
                                                        expected: str) -> None:
    assert old in UPSET
    found = problems(tmp_path, UPSET.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


def test_the_clinic_demo_escalates_upset_callers_wherever_they_speak() -> None:
    flows = Path(__file__).resolve().parents[2] / "config" / "flows"
    spec = load_flow(flows / "clinic.yaml").spec
    upset = spec.escalation.upset
    assert upset is not None and upset.enabled and upset.states is None
    assert (upset.queue or spec.escalation.queue) == "front-desk"
    for name, state in spec.states.items():
        assert (spec.escalation.upset_in(name, state.listens) is upset) == state.listens


def test_asking_for_a_real_person_is_a_request_not_agitation() -> None:
    assert word_signal("can I talk to a real person please").score == 0.0
