"""A private redis-server on 127.0.0.1: the no-setup default of the service (REDIS_URL unset), the
demo, and the tests' real Redis. Append-only persistence so nothing is lost on a restart (R-CB-8)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def find_redis_server() -> str:
    for candidate in (
        os.environ.get("REDIS_SERVER"),
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
        "/usr/local/bin/redis-server",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "redis-server is not installed: run `make setup` (or `apt-get install redis-server`), or set REDIS_URL"
    )


# Below Linux's ephemeral range (32768-60999 by default): a port the kernel hands out for bind(0) is
# also where every outgoing connection takes its local port, so between our check and the server's
# own bind a client socket could take it ("Address already in use"). Random, so parallel test
# processes rarely pick the same one.
LISTEN_PORTS = (10_000, 32_000)
_PICK = random.SystemRandom()  # not the global generator: tests seed that (hypothesis, the simulator's days)


def free_port() -> int:
    """A loopback port free now, outside the range outgoing connections draw from."""
    for _ in range(200):
        port = _PICK.randint(*LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {LISTEN_PORTS}")


@dataclass
class LocalRedis:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(
        cls, data_dir: Path, port: int | None = None, appendonly: bool = True, extra: tuple[str, ...] = ()
    ) -> LocalRedis:
        """`extra`: more redis-server arguments (a cluster node's, in the tests)."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        binary = find_redis_server()
        last_error = ""
        for _ in range(5 if port is None else 1):
            chosen = port or free_port()
            log = data_dir / "redis.log"
            process = subprocess.Popen(
                [
                    binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(chosen),
                    "--dir",
                    str(data_dir),
                    "--appendonly",
                    "yes" if appendonly else "no",
                    "--save",
                    "",
                    "--protected-mode",
                    "yes",
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(log),
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            server = cls(chosen, data_dir, process)
            if server._wait_ready():
                return server
            process.kill()
            process.wait()
            last_error = log.read_text()[-600:] if log.exists() else "no log"
        raise RuntimeError(f"redis-server did not start on 127.0.0.1: {last_error}")

    def _wait_ready(self, seconds: float = 10.0) -> bool:
        conn = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if conn.ping():
                    return True
            except redis.RedisError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            # No retries: the connection closing is the shutdown working (retrying cost seconds).
            conn = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0))
            try:
                conn.shutdown(nosave=True)
            except redis.RedisError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
