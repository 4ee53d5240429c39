"""Errors of the engine, each saying whether retrying can help.

    CallCenterError
    ├── SettingsError          bad or missing configuration; fix it and restart
    ├── CapacityError          no call slot on this node; retry later or elsewhere
    ├── CallFailed             a call could not be set up (carries the SIP code)
    ├── CallGone               the call ended while an operation was pending
    ├── MediaError             audio could not be attached, played or recorded
    └── StoreError             the database refused an operation

Lower-layer errors (pjsua2's ``Error``, SQLAlchemy's) are mapped once, at the
boundary that calls them, into one of these.
"""

from __future__ import annotations


class CallCenterError(Exception):
    """Base of every error the engine raises on purpose."""

    retryable: bool = False


class SettingsError(CallCenterError):
    """A setting is missing or invalid; the message names it and where it came from."""


class CapacityError(CallCenterError):
    """This node has no free call slot."""

    retryable = True


class CallFailed(CallCenterError):
    """A call attempt ended without being answered (``call_id``: the engine's
    id of the leg, when one was made: its CDR)."""

    def __init__(self, message: str, sip_code: int | None = None, *,
                 call_id: str | None = None) -> None:
        super().__init__(message)
        self.sip_code = sip_code
        self.call_id = call_id

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.sip_code in (408, 480, 486, 500, 503, 600, None)


class CallGone(CallCenterError):
    """The call ended before the requested operation could run."""


class MediaError(CallCenterError):
    """Audio could not be attached, played or recorded."""


class StoreError(CallCenterError):
    """The store refused an operation."""

    retryable = True
