"""One benchmark run's loopback parts: a Redis (append-only, as in production), the Twilio
stand-in, a work folder with the processes' log, and the environment the service's processes
get. Stopped however the run ends, so a failed run leaves no server behind."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.service import env_for
from bench.twilio_stub import TwilioStub
from telephony.adapters.local_redis import LocalRedis


@dataclass
class Rig:
    work: Path
    server: LocalRedis
    stub: TwilioStub
    log: Path
    env: dict[str, str]


@contextmanager
def loopback(prefix: str, *, remove_work: bool = False) -> Iterator[Rig]:
    """`remove_work`: delete the work folder afterwards (make bench keeps it: its log is where a
    failed run says why)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = LocalRedis.start(work / "redis", appendonly=True)
    stub = TwilioStub()
    try:
        yield Rig(work, server, stub, work / "processes.log", env_for(server.url, stub.url))
    finally:
        stub.close()
        server.stop()
        if remove_work:
            shutil.rmtree(work, ignore_errors=True)
