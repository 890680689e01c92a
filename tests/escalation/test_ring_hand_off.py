"""Issue 19: the caller's account webhook hands the ring to the workers as a timer due now (one
store script, no RQ round trips). That hand-off lives in Redis, not in any process: with the
worker and the scheduler killed (`kill -9`) the webhook still answers at once, and the agent is
rung as soon as a worker and a scheduler run again (R-WARM-3: the caller is connected)."""

from __future__ import annotations

import json

from telephony.adapters.redis_clock import RedisClock
from telephony.adapters.store import keys
from tests.processes import BIN, kill_worker_and_horse, rq_worker, service_env, spawn, wait_for
from tests.support import Harness


def test_the_ring_handed_off_by_the_webhook_survives_a_killed_worker_and_scheduler__R_WARM_3(
    redis_conn, redis_server, twilio_rest, twilio_stand_in, tmp_path
):
    harness = Harness(redis_conn, twilio_rest, twilio_api_base_url=twilio_stand_in.url)
    harness.work_after_requests = False
    RedisClock(redis_conn).set(harness.clock.now())
    env = service_env(redis_server.url, TWILIO_API_BASE_URL=twilio_stand_in.url, CLOCK="virtual")
    log = tmp_path / "processes.log"
    scheduler = spawn([str(BIN / "python"), "-m", "workers.scheduler"], env, log)
    worker = rq_worker(env, log)
    try:
        kill_worker_and_horse(scheduler)
        kill_worker_and_horse(worker)

        caller = harness.caller_calls()
        joined = harness.twiml("/voice/account?attempt=1", {"CallSid": caller, "Digits": "448812"})
        assert joined.conference() is not None, "the caller is in their conference at once, workers or not"
        ring = json.loads(redis_conn.hget(keys.TIMER_CALLS, f"{harness.core.ctx.timers.organisation}/ring_agent-{caller}"))
        assert (ring["func"], ring["args"], ring.get("urgent")) == ("workers.jobs.ring_agent", [caller], True)
        assert redis_conn.zscore(keys.TIMERS, f"{harness.core.ctx.timers.organisation}/ring_agent-{caller}") is not None, "due now, kept in Redis"
        assert twilio_stand_in.arrived == 0

        scheduler = spawn([str(BIN / "python"), "-m", "workers.scheduler"], env, log)
        worker = rq_worker(env, log)
        wait_for(
            lambda: bool(harness.core.ctx.store.call(caller).get("agent_call_sid")),
            "the restarted worker to ring the agent",
            log,
        )
        assert twilio_stand_in.arrived >= 1, "the agent's leg was asked of Twilio by the worker"
        assert not redis_conn.zscore(keys.TIMERS, f"{harness.core.ctx.timers.organisation}/ring_agent-{caller}"), "and the hand-off is gone, done once"
    finally:
        for process in (scheduler, worker):
            if process.poll() is None:
                kill_worker_and_horse(process)
