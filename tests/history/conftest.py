"""The history tests run on both databases (issue 30): an embedded SQLite file, and a real
PostgreSQL server on loopback started once per test process (tests/postgres.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer.start()
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request, tmp_path):
    """A fresh, empty history database of each kind; its URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return server.new_database(f"history_{uuid.uuid4().hex[:12]}")
