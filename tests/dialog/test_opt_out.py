"""Opt-out requests are taken only on evidence: a cue that says it, or "stop" alone."""

from __future__ import annotations

import pytest

from dialog.opt_out import asks_opt_out


@pytest.mark.parametrize("text", [
    "stop", "Stop.", "Stop!", "stop stop", "oh stop it", "Please stop.", "stop please",
    "Stop calling me, please.", "stop calling", "please take me off your list",
    "Take me off your list.", "don't call me again", "Do not call this number again.",
    "Remove me from your list.", "remove my number", "unsubscribe", "opt out", "Opt-out",
    "No more calls please", "leave me alone", "I said stop calling me",
    "put me on your do not call list",
])
def test_an_opt_out(text: str) -> None:
    assert asks_opt_out(text)


@pytest.mark.parametrize("text", [
    "", "yes", "confirm", "I want to confirm", "I'll stop by on Tuesday", "don't stop",
    "the bus stop", "can you call me back tomorrow", "please don't remove me",
    "never stop", "call me", "I can't make it", "reschedule", "who is this",
    "stop by the front desk", "it won't stop raining",
])
def test_not_an_opt_out(text: str) -> None:
    assert not asks_opt_out(text)
