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


def test_a_lead_sees_only_their_organisations_jobs_and_the_deployments_totals_as_counts(
    redis_conn, twilio_rest, tmp_path
):
    """Issue 35 item 7: one set of workers serves every organisation; a lead of one sees what a
    worker runs for them, never another organisation's job ids, and the queues as counts only."""
    from rq.executions import prepare_execution

    from telephony.commands import ReplayWhatIf, SweepCallbacks
    from tests.deployment.test_organisations import EXAMPLE, NORTHWIND, Deployment, two_policies

    deployment = Deployment(redis_conn, twilio_rest, two_policies(tmp_path))
    theirs = deployment.be(NORTHWIND).core.ctx.timers.replay_later(ReplayWhatIf("nw-1"), key="nw-1")
    ours = deployment.be(EXAMPLE).core.ctx.timers.replay_later(ReplayWhatIf("ex-1"), key="ex-1")
    for org in (EXAMPLE, NORTHWIND):  # one batch of due timers, both organisations' in it
        timers = deployment.be(org).core.ctx.timers
        timers.at(timers.clock.now(), SweepCallbacks(), key="sweep-now")
    deployment.core.ctx.timers.release_due()
    [batch] = Queue(QUEUE, connection=redis_conn).get_jobs()
    for name, job in (("worker-a", theirs), ("worker-b", ours), ("worker-c", batch)):
        worker = Worker([WHAT_IF_QUEUE, QUEUE], connection=redis_conn, name=name)
        worker.register_birth()
        prepare_execution(worker, job)

    answer = deployment.be(EXAMPLE).api("GET", "/api/queues", who="lead-lee")
    assert answer.status_code == 200, answer.json
    jobs = {w["name"]: w["current_job"] for w in answer.json["workers"]}
    assert jobs == {"worker-a": None, "worker-b": ours.id, "worker-c": None}, "a batch with theirs in it is not ours"
    assert NORTHWIND not in answer.get_data(as_text=True) and theirs.id not in answer.get_data(as_text=True)
    assert {w["name"]: w["state"] for w in answer.json["workers"]}["worker-a"] == "busy", "busy, for someone"
    counts = {q["name"]: q["queued"] for q in answer.json["queues"]}
    assert counts[WHAT_IF_QUEUE] == 2, "the deployment's totals, as counts"
    mine = deployment.be(NORTHWIND).api("GET", "/api/queues", who="lead-lee").json
    assert {w["name"]: w["current_job"] for w in mine["workers"]} == {
        "worker-a": theirs.id,
        "worker-b": None,
        "worker-c": None,
    }
