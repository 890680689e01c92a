"""Real processes for the tests that prove behaviour living in processes: an `rq worker` or the
scheduler started with the service's environment, killed with `kill -9` (its work-horse too),
and waited on with a give-up limit (never a timing assertion)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ACCOUNT_SID, AUTH_TOKEN, BASE, CALLER_ID, HISTORY_URL, ROOT, TOKENS

BIN = Path(sys.executable).parent
QUEUES = ("escalations-urgent", "escalations")


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_CALLER_ID": CALLER_ID,
        "PUBLIC_BASE_URL": BASE,
        "POLICY_FILE": str(ROOT / "policies" / "default.toml"),
        "API_TOKENS": ",".join(f"{t.token}:{t.person_id}:{t.role}" for t in TOKENS.values()),
        "CLOCK": "system",
        "LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": HISTORY_URL,
        **extra,
    }


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, stdout=log.open("a"), stderr=subprocess.STDOUT
    )


def rq_worker(env: dict[str, str], log: Path, burst: bool = False) -> subprocess.Popen:
    return spawn(
        [str(BIN / "rq"), "worker", "-w", "workers.worker.Worker", *(["--burst"] if burst else [])]
        + ["--url", env["REDIS_URL"], *QUEUES],
        env,
        log,
    )


def kill_worker_and_horse(worker: subprocess.Popen) -> None:
    """kill -9 an `rq worker` and the work-horse it forked for the job: RQ starts the horse in a
    session of its own, so killing the worker's process group alone leaves the horse dialling."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    horses = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    os.killpg(worker.pid, signal.SIGKILL)
    for pid in horses:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=10)


def wait_for(predicate, what: str, log: Path, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}; process log:\n{log.read_text()[-3000:]}")
