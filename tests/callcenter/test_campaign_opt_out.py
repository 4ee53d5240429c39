"""The in-call opt-out watch: key 9 or words that ask for it, the first one wins."""

from __future__ import annotations

from callcenter.campaign_opt_out import OptOut, OptOutWatch
from dialog.ports import CallerInput


async def test_key_9_opts_out_and_other_keys_do_not() -> None:
    watch = OptOutWatch()
    watch.heard(CallerInput.dtmf("1"))
    watch.heard(CallerInput.speech("I'll stop by on Tuesday", 0.9))
    assert not watch.requested.done()
    watch.heard(CallerInput.dtmf("9"))
    watch.heard(CallerInput.speech("stop", 0.9))  # the first one is kept
    assert watch.requested.result() == OptOut("opt_out_dtmf", "9")


async def test_words_opt_out() -> None:
    watch = OptOutWatch()
    watch.heard(CallerInput.speech("Stop calling me.", 0.8))
    assert watch.requested.result() == OptOut("opt_out_voice", "Stop calling me.")
