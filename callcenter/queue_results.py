"""How a caller's time in the human queue ended, as the dialog's transfer sees it."""

from __future__ import annotations

import enum


class QueueResult(enum.StrEnum):
    """How a caller's time in the queue ended, for the dialog's transfer."""

    NOT_TAKEN = "not_taken"  # never waited: nobody logged in, or the queue is full
    FAILED = "failed"  # waited, nobody took the call; still on the line
    DONE = "done"  # talked to an agent (or sent on); the caller is gone or to be hung up
    RETURNED = "returned"  # the agent ended the talk and the caller goes back to the flow
    ABANDONED = "abandoned"  # hung up while waiting
