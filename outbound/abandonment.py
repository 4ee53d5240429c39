"""The abandonment rate of a campaign, and when it pauses the campaign.

A live answer that the engine does not greet within 2 s is abandoned (the
call port says so per attempt: ``abandoned``; None when no person answered:
a machine, busy, no answer). The rate is abandoned calls over live answers
of one campaign whose attempts ended within the last 30 days (rolling, as
the FCC measures it, 47 CFR 64.1200(a)(7)); above 3 % the campaign pauses.

Small samples. One abandoned call among a campaign's first few live answers
is a rate far above 3 % that more answers may well bring under it, so until
``MIN_LIVE_ANSWERS`` live answers are in the window the rate is judged
against that many: the campaign pauses at its 4th abandoned call among its
first 100 live answers (more than 3 % of 100: certain to stay above 3 %
when the 100th answer comes), and from 100 live answers on at the real
rate. The rate shown is always the real one.

Pure: the store counts, this module judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: The most abandoned calls a campaign may have, as a share of its live answers.
MAX_RATE = 0.03
#: The rolling window the rate is measured over.
WINDOW = timedelta(days=30)
#: Below this many live answers in the window, the rate is judged against this many.
MIN_LIVE_ANSWERS = 100


@dataclass(frozen=True, slots=True)
class Abandonment:
    """A campaign's abandoned calls and live answers within `WINDOW`."""

    abandoned: int
    live: int

    @property
    def rate(self) -> float | None:
        """Abandoned over live answers; None before any live answer."""
        return self.abandoned / self.live if self.live else None

    @property
    def over_limit(self) -> bool:
        """Whether the campaign must pause (small samples: see the module)."""
        return self.abandoned > MAX_RATE * max(self.live, MIN_LIVE_ANSWERS)

    def describe(self) -> str:
        """``4.0 % (4 of 100 live answers in 30 days)``."""
        rate = "no live answer" if self.rate is None else f"{self.rate * 100:.1f} %"
        return (f"{rate} ({self.abandoned} abandoned of {self.live} live answer(s) in "
                f"{WINDOW.days} days)")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON: counts, rate, and the limit it is judged against."""
        return {"abandoned": self.abandoned, "live_answers": self.live,
                "rate": None if self.rate is None else round(self.rate, 4),
                "max_rate": MAX_RATE, "window_days": WINDOW.days,
                "min_live_answers": MIN_LIVE_ANSWERS, "over_limit": self.over_limit}
