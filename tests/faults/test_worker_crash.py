"""R-CB-8 with a real worker process on the real Redis: killed in the middle of dialling a
callback, the callback is neither lost nor dialled twice."""

from __future__ import annotations

import socket
import threading
from datetime import datetime

from telephony.adapters.redis_clock import RedisClock
from tests.hold.test_hold_and_callbacks import book_callback, holding
from tests.processes import kill_worker_and_horse, rq_worker, service_env, wait_for


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
    env = service_env(redis_server.url, TWILIO_API_BASE_URL=f"http://127.0.0.1:{hole.port}", CLOCK="virtual")
    log = tmp_path / "worker.log"
    worker = rq_worker(env, log, burst=True)
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
