"""The engine's errors as HTTP answers, mapped once for every endpoint.

    CallNotFound, MonitorNotFound                          -> 404
    AmbiguousCallId, ModeNotPossible, SupervisorUnavailable -> 409
    SupervisorNoAnswer                                     -> 502 (the supervisor's phone)
    StoreError                                             -> 503 (retry later)

Every error body is ``{"detail": "<what went wrong>"}``, like FastAPI's own.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from callcenter.core.errors import StoreError
from callcenter.monitoring import (
    AmbiguousCallId,
    CallNotFound,
    ModeNotPossible,
    MonitorNotFound,
    SupervisionError,
    SupervisorNoAnswer,
    SupervisorUnavailable,
)

_STATUS: list[tuple[type[Exception], int]] = [
    (CallNotFound, 404),
    (MonitorNotFound, 404),
    (AmbiguousCallId, 409),
    (ModeNotPossible, 409),
    (SupervisorUnavailable, 409),
    (SupervisorNoAnswer, 502),
    (SupervisionError, 409),
    (StoreError, 503),
]


def status_of(exc: Exception) -> int:
    """The HTTP status for one of the engine's errors (500 for anything unexpected)."""
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return 500


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    """Answer the engine's errors with their status and the error's words."""
    for kind in (SupervisionError, StoreError):
        app.add_exception_handler(kind, _answer)
