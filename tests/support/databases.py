"""The store's databases for tests: an SQLite file, and a throwaway PostgreSQL server.

Fixtures (made available to every test by tests/conftest.py):

- ``pg_server``: a PostgreSQL server for the whole session, started from the
  Debian package `postgresql` (initdb + pg_ctl in a temporary folder);
  without the package the PostgreSQL cases fail, not skip.
- ``url``: an empty database of each kind (the test runs once per kind).
- ``store``: a migrated :class:`Store` on that database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from callcenter.core.store import Store


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found: install Debian package postgresql")


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for this session; yields its admin URL (user postgres)."""
    bindir = _pg_bin()
    # The server refuses to run as root: run it as the `postgres` user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp dir: the `postgres` user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="cc-pg-"))
    data, log = root / "data", root / "server.log"
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    except subprocess.CalledProcessError:
        print(log.read_text() if log.exists() else "no server log")
        raise
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'not-yet' / 'callcenter.db'}"
        return
    server: str = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"{server}/{name}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """A migrated store on an empty database of each kind."""
    s = Store(url)
    s.migrate()
    yield s
    s.close()


