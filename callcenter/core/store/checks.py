"""Checks on values handed to the store: a wrong one is refused, never retried."""

from __future__ import annotations

from datetime import datetime

from callcenter.core.errors import StoreError


def refused(message: str) -> StoreError:
    """A StoreError that retrying cannot fix: the request itself is wrong."""
    err = StoreError(message)
    err.retryable = False
    return err


def choice(value: str | None, allowed: tuple[str, ...], name: str) -> str:
    """`value` as text when it is one of `allowed`; refused (naming `name`) otherwise."""
    text = None if value is None else str(value)
    if text not in allowed:
        raise refused(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
    return text


def aware(value: datetime, name: str) -> datetime:
    """`value` when it is timezone-aware; refused (naming `name`) when naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise refused(f"{name} is a naive datetime ({value!r}); pass a timezone-aware one")
    return value
