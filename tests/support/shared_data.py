"""Test data from ``shared/testdata``, which is not part of this repository.

``shared/`` is handed to the project's developers and to CI beside the
checkout (``../shared``; see its README.md). A clone anywhere else does not
have it, so a test that needs it asks :func:`shared_path`, which skips the
test with a reason that says what is missing. Under ``CI=true`` a missing
folder fails the test instead: CI must not stop running them unnoticed.

``CALLCENTER_SHARED_DIR`` points the tests at another ``shared/`` folder
(also the way to check the skip: point it at a folder that does not exist).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DIR_VARIABLE = "CALLCENTER_SHARED_DIR"
DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[3] / "shared"


def shared_dir() -> Path:
    """The ``shared/`` folder: ``$CALLCENTER_SHARED_DIR`` or ``../shared``."""
    return Path(os.environ.get(SHARED_DIR_VARIABLE) or DEFAULT_SHARED_DIR)


def shared_path(*parts: str) -> Path:
    """``shared/testdata/<parts>``; skips the test when it is absent or an
    empty folder, and fails it under ``CI=true``."""
    path = shared_dir().joinpath("testdata", *parts)
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        return path
    name = "/".join(parts)
    reason = (f"needs ../shared/testdata/{name} (handed to the project's developers and CI; "
              f"see shared/README.md); not found at {path}")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true: shared/ must sit beside the checkout "
                    f"or {SHARED_DIR_VARIABLE} name it", pytrace=False)
    pytest.skip(reason)
