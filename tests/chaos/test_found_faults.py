"""The faults the chaos suite found, each pinned by a test of its own that needs no load (issue 11)."""

from __future__ import annotations

from datetime import datetime, timedelta

from telephony.adapters.timers import TIMER_CALLS, TIMERS
from telephony.callbacks.sweeper import SWEEP_SECONDS
from tests.hold.test_hold_and_callbacks import book_callback, holding
from tests.processes import service_env
from workers.scheduler import Scheduler


def waiting(timers) -> set[str]:
    return {key for key, _ in timers.scheduled()}


def forget(timers, key: str) -> None:
    """What a worker killed after taking a timer's job leaves: the timer nowhere to run."""
    timers.conn.zrem(TIMERS, f"{timers.organisation}/{key}")
    timers.conn.hdel(TIMER_CALLS, f"{timers.organisation}/{key}")


def test_a_dial_job_lost_with_its_worker_before_the_claim_is_dialled_once_by_the_sweeper__R_CB_8(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    dial = f"dial-{cb_id}-1"
    timers = harness.core.ctx.timers
    assert dial in waiting(timers)
    forget(timers, dial)
    before = len(harness.rest.requests("CreateCall"))
    start = datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"])

    harness.advance((start - harness.clock.now()).total_seconds() + 2 * SWEEP_SECONDS + 60)

    dialled = [c.param("To") for c in harness.rest.requests("CreateCall")[before:]]
    assert dialled == ["+13125550111"], "dialled once, by the sweeper, the lead first"
    events = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert "callback_recovered" in events and "callback_dialing_lead" in events


def test_a_sweep_killed_with_its_worker_is_replaced_by_the_scheduler__R_CB_8(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    ctx = harness.core.ctx
    forget(ctx.timers, "sweep-callbacks")  # the sweep's worker died with it; its claim is still there
    scheduler = Scheduler(ctx.store.r, ctx.timers, name="test", housekeeping=harness.core.callback_sweeper.ensure)

    scheduler.tick()
    assert "sweep-callbacks" not in waiting(ctx.timers), "not yet: the claimed sweep is not late"
    harness.clock.set(harness.clock.now() + timedelta(seconds=2 * SWEEP_SECONDS + 1))
    scheduler._next_housekeeping = 0
    scheduler.tick()
    assert "sweep-callbacks" in waiting(ctx.timers), "a sweep late by a sweep is replaced"


def test_a_worker_builds_the_core_before_it_forks_and_retries_redis_every_5_s(redis_server, monkeypatch):
    import redis

    import workers.runtime

    for name, value in service_env(redis_server.url).items():
        monkeypatch.setenv(name, value)
    workers.runtime.use(None)
    try:
        import workers.worker

        worker = workers.worker.Worker(["escalations"], connection=redis.Redis.from_url(redis_server.url))
        assert workers.runtime._organisations is not None, "built in the worker, before its first job"
        assert worker.max_connection_wait_time <= 5
    finally:
        workers.runtime.use(None)


def test_a_lead_answering_while_the_dial_is_being_stored_is_briefed_not_sent_away__R_CB_8(harness, monkeypatch):
    """Found with 1,000 callbacks: the lead's leg and the callback's link to it were two writes, and
    a lead whose answer came between them heard "the caller is no longer on the line" while the
    next lead was rung. This answers at exactly that moment if the two writes are ever apart."""
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    store = harness.core.ctx.store
    heard, save_leg = [], store.save_leg

    def lead_answers(call_sid: str) -> None:
        harness.work_after_requests = False
        url = f"/voice/callback/lead/answer?callback={cb_id}&attempt=1"
        heard.append(harness.twiml(url, {"CallSid": call_sid, "CallStatus": "in-progress"}).text())
        harness.work_after_requests = True

    def saved_then_answered(call_sid, fields):
        save_leg(call_sid, fields)
        if fields.get("role") == "callback_lead":
            lead_answers(call_sid)

    monkeypatch.setattr(store, "save_leg", saved_then_answered)
    before = len(harness.rest.requests("CreateCall"))
    start = datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"])
    harness.advance((start - harness.clock.now()).total_seconds() + 61)
    if not heard:
        lead_answers(store.callback(cb_id)["lead_call_sid"])

    assert "no longer on the line" not in heard[0] and "escalation" in heard[0].lower(), heard[0]
    assert [c.param("To") for c in harness.rest.requests("CreateCall")[before:]] == ["+13125550111"]
