"""Issue 8: timers are small entries released in batches (telephony/adapters/timers.py), none lost when the
scheduler dies half-way; finished escalations leave live state, so Redis does not grow without
bound."""

from __future__ import annotations

import json
from datetime import timedelta

from rq import SimpleWorker

from telephony.adapters.store import LEG_TTL_SECONDS
from telephony.adapters.timers import BATCH, RELEASING, TIMER_CALLS, TIMERS
from telephony.commands import HoldCheckIn
from tests.probe_jobs import RAN, Broken, Mark, routed

KEEP = 3600


def run_queued(harness) -> None:
    import workers.runtime

    workers.runtime.use(harness.core)
    timers = harness.core.ctx.timers
    SimpleWorker(timers.queues(), connection=timers.conn).work(burst=True)


def ran(conn) -> list[str]:
    return [v.decode() for v in conn.lrange(RAN, 0, -1)]


def test_due_timers_run_in_batches_and_one_that_fails_is_tried_again_alone(harness, monkeypatch):
    monkeypatch.setenv("REDIS_URL", _url(harness))
    routed(monkeypatch)
    timers, now = harness.core.ctx.timers, harness.clock.now()
    for i in range(2 * BATCH + 5):
        timers.at(now + timedelta(seconds=1), Mark(f"t{i}"), key=f"probe-{i}")
    timers.at(now + timedelta(seconds=1), Broken(), key="broken")
    timers.at(now + timedelta(seconds=60), Mark("later"), key="later")
    harness.clock.set(now + timedelta(seconds=2))

    assert timers.release_due() == 2 * BATCH + 6
    assert timers.queue.count == 3, "one job per BATCH timers, not one per timer"
    run_queued(harness)

    assert sorted(ran(timers.conn)) == sorted(f"t{i}" for i in range(2 * BATCH + 5)), "the failing one stopped none"
    waiting = dict(timers.scheduled())
    assert set(waiting) == {"broken", "later"}, "the failed timer waits for its next try; the later one for its time"
    assert json.loads(timers.conn.hget(TIMER_CALLS, f"{timers.organisation}/broken"))["tries"] == 1, "second try"


def test_a_scheduler_killed_between_taking_timers_and_queueing_them_loses_none(harness, monkeypatch):
    monkeypatch.setenv("REDIS_URL", _url(harness))
    routed(monkeypatch)
    timers, now = harness.core.ctx.timers, harness.clock.now()
    for i in range(5):
        timers.at(now, Mark(f"t{i}"), key=f"probe-{i}")
    taken = timers._take_due(keys=[TIMERS, TIMER_CALLS, RELEASING], args=[now.timestamp(), 100, now.timestamp()])
    assert len(taken) == 15 and timers.conn.zcard(TIMERS) == 0, "taken, then the scheduler died before queueing"

    assert timers.release_due() == 0, "a scheduler that may still be queueing them is given time"
    harness.clock.set(now + timedelta(seconds=31))
    assert timers.release_due() == 5, "the next tick after that puts them back and queues them"
    run_queued(harness)
    assert sorted(ran(timers.conn)) == [f"t{i}" for i in range(5)]
    assert timers.conn.hlen(RELEASING) == 0


def test_a_waiting_timer_costs_a_few_hundred_bytes_not_an_rq_job(harness):
    conn = harness.core.ctx.store.r
    conn.flushall()
    before = conn.info("memory")["used_memory"]
    timers, now = harness.core.ctx.timers, harness.clock.now()
    for i in range(1000):
        timers.at(now + timedelta(seconds=120), HoldCheckIn(f"esc_{i:032x}", 1, 1), key=f"check_in-esc_{i:032x}-1-1")
    per_timer = (conn.info("memory")["used_memory"] - before) / 1000
    # An RQ job costs about 1,300 bytes; a timer a few hundred, its member naming its organisation
    # (example-support/, in the sorted set and the hash: about 35 bytes of it).
    assert per_timer < 450, f"{per_timer:.0f} bytes per waiting timer"
    assert not conn.keys("rq:job:*"), "no RQ job exists until the timer is due"


def test_a_finished_escalation_leaves_live_state_after_the_keep_time(redis_conn, twilio_rest):
    from tests.support import Harness

    harness = Harness(redis_conn, twilio_rest, finished_keep_seconds=KEEP)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    assert harness.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert harness.escalation(esc_id)["state"] == "resolved"

    harness.advance(KEEP - 60)
    assert harness.api("GET", f"/api/escalations/{esc_id}", who="lead-lee").status_code == 200, "kept a while"

    harness.advance(180)
    assert harness.api("GET", f"/api/escalations/{esc_id}", who="lead-lee").status_code == 404
    left = [k.decode() for k in redis_conn.keys("esc:*") if esc_id in k.decode() or caller_sid in k.decode()]
    assert f"esc:{{example-support}}:record:{esc_id}" not in left, "issue 30: the record is in the history database"
    assert harness.core.records.history.record(esc_id)["state"] == "resolved", "the record (R-NOTE-3) outlives live state"
    assert all(0 < redis_conn.ttl(k) <= LEG_TTL_SECONDS for k in left), "what is left expires on its own"
    assert not [k for k in left if k.startswith(tuple(f"esc:{{example-support}}:{kind}:" for kind in ("escalation", "call", "callback")))], left
    assert esc_id not in harness.api("GET", "/api/escalations", who="lead-lee").json["escalations"]
    assert redis_conn.zcard("esc:{example-support}:finished") == 0


def test_an_escalation_still_waiting_for_its_callback_is_not_purged(redis_conn, twilio_rest):
    from tests.support import Harness

    harness = Harness(redis_conn, twilio_rest, finished_keep_seconds=KEEP)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    redis_conn.hset(f"esc:{{example-support}}:escalation:{esc_id}", "state", "callback_scheduled")
    harness.core.ctx.store.mark_finished(esc_id, harness.clock.now().timestamp())
    harness.advance(KEEP + 120)
    assert harness.escalation(esc_id)["state"] == "callback_scheduled", "not over: kept"
    assert redis_conn.zcard("esc:{example-support}:finished") == 0


def _url(harness) -> str:
    kwargs = harness.core.ctx.store.r.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_a_call_whose_last_status_callback_never_came_still_leaves_redis(harness, redis_conn):
    caller_sid = harness.caller_calls()
    assert 0 < redis_conn.ttl(f"esc:{{example-support}}:call:{caller_sid}") <= LEG_TTL_SECONDS, "Twilio ends every call within 24 h"
