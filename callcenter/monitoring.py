"""What a supervisor's listening-in is, as the node reports it: modes, records, errors.

The contract between :class:`callcenter.supervision.Supervision` (which does
it) and whoever asks for it (the HTTP API, the CLI, tests). Nothing here
touches SIP or HTTP.

Modes (who hears whom; "agent" is the human bridged to the caller, or
nobody while the caller is still with the bot or waiting in a queue):

========  ===============================  ===================================
mode      the supervisor hears             the supervisor is heard by
========  ===============================  ===================================
listen    caller, agent, the engine's      nobody
          audio to the caller (bot, tones,
          announcements; not hold music)
whisper   the same                         the agent only
barge     the same                         caller and agent (and the recording's
                                           channel 2, what the caller heard)
========  ===============================  ===================================

Whisper needs an agent: on a call with the bot or in a queue it is refused
(:class:`ModeNotPossible`); a whisper running when the agent leaves goes on
as listen until an agent is there again. The bot never hears the supervisor
(its recognizer listens to the caller alone).

Errors, for mapping to HTTP codes at the API boundary::

    SupervisionError (CallCenterError)
    ├── CallNotFound            no live call with that id or id prefix      → 404
    ├── AmbiguousCallId         the prefix fits more than one live call     → 409
    ├── MonitorNotFound         no active monitor with that id              → 404
    ├── ModeNotPossible         e.g. whisper without an agent, monitoring a → 409
    │                           supervisor leg, an unknown supervisor
    ├── SupervisorUnavailable   no phone given and the supervisor has no    → 409
    │                           session that could be used
    └── SupervisorNoAnswer      the supervisor's phone did not answer;      → 502
                                ``sip_code`` says how (408 = no answer in time)
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from callcenter.core.errors import CallCenterError


class MonitorMode(enum.StrEnum):
    """How a supervisor takes part in a call (see the module's table)."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class MonitorEnd(enum.StrEnum):
    """How a monitor ended (stored in ``supervision_audit.end_reason``)."""

    STOPPED = "stopped"  # asked to stop (API, CLI)
    CALL_ENDED = "call_ended"  # the monitored call ended
    SUPERVISOR_HUNG_UP = "supervisor_hung_up"  # the supervisor's phone or session left
    NO_ANSWER = "no_answer"  # the supervisor's phone never answered
    FAILED = "failed"  # the legs could not be joined
    SHUTDOWN = "shutdown"  # the node stopped


class MonitorInfo(BaseModel):
    """One supervisor on one call, as a plain, JSON-able, read-only record."""

    model_config = ConfigDict(frozen=True)

    monitor_id: str  # uuid hex; the handle for change_mode / stop
    call_id: str  # the monitored call (the caller's leg)
    supervisor: str  # who (an agent id from agents.yaml, or a user name from the API)
    mode: MonitorMode
    # "phone": the engine rang `phone`; "session": the supervisor's agent session.
    via: str
    phone: str | None = None
    leg_call_id: str | None = None  # the supervisor's own call leg, once joined
    state: str = "ringing"  # ringing | joined | ended
    started_at: datetime
    joined_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: MonitorEnd | None = None


class SupervisionError(CallCenterError):
    """Base of the errors a supervision request can meet."""


class CallNotFound(SupervisionError):
    """No live call on this node has that id (or id prefix)."""


class AmbiguousCallId(SupervisionError):
    """An id prefix that fits more than one live call."""


class MonitorNotFound(SupervisionError):
    """No active monitor has that id."""


class ModeNotPossible(SupervisionError):
    """The mode cannot apply to this call now (whisper with no agent, say)."""


class SupervisorUnavailable(SupervisionError):
    """No phone was given and the supervisor has no agent session to use."""


class SupervisorNoAnswer(SupervisionError):
    """The engine rang the supervisor's phone and it did not answer."""

    def __init__(self, message: str, sip_code: int | None) -> None:
        super().__init__(message)
        self.sip_code = sip_code
