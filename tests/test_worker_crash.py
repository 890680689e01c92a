"""R-CB-8 with a real worker process on the real Redis: killed in the middle of dialling a
callback, the callback is neither lost nor dialled twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from telephony.clock import RedisClock
from tests.support import ACCOUNT_SID, AUTH_TOKEN, BASE, CALLER_ID, ROOT, TOKENS
from tests.test_hold_and_callbacks import book_callback, holding


class Blackhole:
    """A 'Twilio' that accepts the connection and never answers, so the worker hangs mid-dial."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        for conn in self.accepted:
            conn.close()
        self.sock.close()


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


def wait_for(predicate, what: str, log: Path, limit: float = 30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def test_worker_killed_mid_dial_callback_made_exactly_once__R_CB_8(harness, redis_server, tmp_path):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    cb = harness.core.callbacks.view(cb_id)
    harness.clock.set(datetime.fromisoformat(cb["window_start"]))
    RedisClock(harness.core.ctx.store.r).set(harness.clock.now())
    assert harness.core.ctx.timers.release_due() >= 1, "the dial job is queued for a worker"
    before = len(harness.rest.requests("CreateCall"))

    hole = Blackhole()
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url if hasattr(redis_server, "url") else str(redis_server),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_CALLER_ID": CALLER_ID,
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{hole.port}",
        "PUBLIC_BASE_URL": BASE,
        "POLICY_FILE": str(ROOT / "policies" / "default.toml"),
        "API_TOKENS": ",".join(f"{t.token}:{t.person_id}:{t.role}" for t in TOKENS.values()),
        "CLOCK": "virtual",
        "PYTHONPATH": str(ROOT),
    }
    rq = Path(sys.executable).parent / "rq"
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(rq), "worker", "--burst", "--url", env["REDIS_URL"], "escalations"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: harness.core.ctx.store.callback(cb_id)["status"] == "dialing" and hole.accepted,
            "the worker to claim and start dialling",
            log,
        )
    finally:
        kill_worker_and_horse(worker)
        hole.close()
    stuck = harness.core.ctx.store.callback(cb_id)
    assert stuck["status"] == "dialing" and not stuck["lead_call_sid"], (
        "killed after the claim, before any call was placed"
    )

    harness.advance(600)
    calls = harness.rest.requests("CreateCall")[before:]
    assert [c.param("To") for c in calls] == ["+13125550111"], "recovered and dialled exactly once"
    assert harness.core.callbacks.view(cb_id)["attempts"] == 1
    assert "callback_recovered" in [e["event"] for e in harness.escalation(esc_id)["timeline"]]
