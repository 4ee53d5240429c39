"""Agent PINs, kept only as salted scrypt hashes.

    stored = hash_pin("4711")          # "scrypt$16384$8$1$<salt hex>$<hash hex>"
    verify_pin(stored, "4711")         # True
    verify_pin(stored, "4712")         # False

A 4 to 8 digit PIN cannot withstand a determined offline attack whatever
the hash; scrypt with a random salt keeps PINs out of sight of anyone who
reads the store (reports, a console, a backup) and makes guessing cost
about 50 ms per try. Logging in must still limit attempts per session.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_SCHEME = "scrypt"
# scrypt cost parameters: 16 MiB of memory, about 50 ms per hash on the project machine.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES,
                          maxmem=256 * n * r + 1024 * 1024)


def hash_pin(pin: str) -> str:
    """A new salted hash of `pin`, as text naming its scheme and parameters."""
    salt = os.urandom(_SALT_BYTES)
    key = _derive(pin, salt, _N, _R, _P)
    return f"{_SCHEME}${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def verify_pin(stored: str, pin: str) -> bool:
    """Whether `pin` matches the hash `stored` (False for a malformed hash)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return False
    if not (1 < n <= 2**20 and 0 < r <= 32 and 0 < p <= 16):
        return False
    return hmac.compare_digest(_derive(pin, salt, n, r, p), key)
