"""The store tests' databases (an SQLite file, a throwaway PostgreSQL), for the DNC stores."""

from tests.core.test_store import pg_server, url

__all__ = ["pg_server", "url"]
