"""A real PostgreSQL server on loopback for the tests (issue 30): `initdb` and `pg_ctl` in a
temporary folder, started once per test process. Debian's server lives under
/usr/lib/postgresql/<version>/bin (not on PATH); `make setup` installs it with apt. As root the
server runs as the `postgres` user (initdb refuses root).

The service connects as `escalations`, a role that is not a superuser (superusers pass every
row-level security policy), owning its database; the tests' own checks use the superuser."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

APP_ROLE = "escalations"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    folder: Path
    port: int
    bindir: Path

    @classmethod
    def start(cls) -> PostgresServer:
        """A new server in a folder of its own under the system's temp folder (pytest's are
        private to root, and the server runs as `postgres` there)."""
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (make setup installs it with apt)")
        folder = Path(tempfile.mkdtemp(prefix="escalations-postgres-"))
        server = cls(folder, _free_port(), bindir)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        server._run("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "log"), "-o", options, "-w", "start")
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
        return server

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder)

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True)

    def new_database(self, name: str) -> str:
        """A fresh database owned by the service's role; its SQLAlchemy URL."""
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://{APP_ROLE}@127.0.0.1:{self.port}/{name}"

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        """The server dies at once (immediate shutdown: no checkpoint, recovery at the next start)."""
        self.stop("immediate")

    def restart(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-o", options, "-w", "start"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with self.admin():
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
