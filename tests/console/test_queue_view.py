"""Issue 11, what an operator sees: GET /api/queues, the console's equivalent of rq-dashboard,
for leads and up only: per queue what is queued, scheduled, started and failed, every worker with
its heartbeat, and which scheduler holds the lease that moves the timers."""

from __future__ import annotations

from rq import Queue, Worker

from telephony.adapters.timers import QUEUE, URGENT_QUEUE, WHAT_IF_QUEUE
from workers.scheduler import LEASE_KEY


def test_a_lead_sees_queues_workers_and_the_scheduler_and_an_agent_may_not(harness, redis_conn):
    caller_sid, _ = harness.caller_with_agent()
    harness.work_after_requests = False
    assert harness.escalate(caller_sid).status_code == 201  # its check-ins and hold limit are timers now
    Queue(URGENT_QUEUE, connection=redis_conn).enqueue("workers.jobs.stop_ringing", "CA" + "0" * 32)
    worker = Worker([URGENT_QUEUE, QUEUE], connection=redis_conn, name="worker-on-host-a")
    worker.register_birth()
    worker.heartbeat()
    redis_conn.set(LEASE_KEY, "host-a:4242:abc123", px=5000)

    answer = harness.api("GET", "/api/queues", who="lead-lee")
    assert answer.status_code == 200
    body = answer.json
    queues = {q["name"]: q for q in body["queues"]}
    assert set(queues) == {URGENT_QUEUE, QUEUE, WHAT_IF_QUEUE}, "the managers' replays' queue is shown too"
    assert queues[URGENT_QUEUE]["queued"] >= 1
    assert queues[QUEUE]["scheduled"] >= 2, "the hold check-in and limit wait in the scheduled registry"
    assert all(q["failed"] == 0 and q["started"] == 0 for q in body["queues"])
    [seen] = body["workers"]
    assert seen["name"] == "worker-on-host-a" and seen["queues"] == [URGENT_QUEUE, QUEUE]
    assert seen["last_heartbeat"] and 0 <= seen["seconds_since_heartbeat"] < 60
    assert body["scheduler"] == "host-a:4242:abc123"

    assert harness.api("GET", "/api/queues", who="agent-avery").status_code == 403
    assert harness.api("GET", "/api/queues", who="manager-max").status_code == 200
    assert harness.api("GET", "/api/queues", who=None).status_code == 401


def test_failed_jobs_and_no_scheduler_are_shown(harness, redis_conn):
    from rq import SimpleWorker

    queue = Queue(QUEUE, connection=redis_conn)
    queue.enqueue("workers.jobs.no_such_job")
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    body = harness.api("GET", "/api/queues", who="lead-lee").json
    assert {q["name"]: q["failed"] for q in body["queues"]}[QUEUE] == 1
    assert body["scheduler"] is None
