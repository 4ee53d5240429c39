"""Bearer tokens of the control API: random, shown once, stored only as a hash.

    token = new_token()            # "cc_" + 43 URL-safe characters (256 random bits)
    token_hash(token)              # what the store keeps and looks up

A token carries 256 random bits, so a plain SHA-256 is enough to keep it
safe at rest (no salt or slow hash needed, unlike a PIN or a password),
and it lets the API find the user by the hash in one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "cc_"


def new_token() -> str:
    """A new random token; show it once, store only :func:`token_hash` of it."""
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest of `token`, as ``api_users.token_hash`` keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
