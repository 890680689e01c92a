"""Issue 19: `workers.worker.Worker` runs the callers' jobs in its own process (no work-horse forked
per job: the fork was about 40% of the workers' CPU under load), still stops a job at its timeout
and goes on to the next, and runs a what-if replay in a forked horse of its own."""

from __future__ import annotations

import subprocess

import redis
from rq import Queue
from rq.job import Job, JobStatus

from telephony.adapters.timers import QUEUE, URGENT_QUEUE, WHAT_IF_QUEUE
from tests.probe_jobs import RAN
from tests.processes import BIN, service_env
from tests.support import ROOT


def test_callers_jobs_run_in_the_worker_a_timeout_still_stops_one_a_replay_forks(redis_server, tmp_path):
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    urgent, queue, what_if = (Queue(name, connection=conn) for name in (URGENT_QUEUE, QUEUE, WHAT_IF_QUEUE))
    urgent.enqueue("tests.probe_jobs.where", "urgent")
    stuck = queue.enqueue("tests.probe_jobs.overrun", 30, job_timeout=1)
    queue.enqueue("tests.probe_jobs.where", "after-the-timeout")
    what_if.enqueue("tests.probe_jobs.where", "what-if")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(BIN / "rq"), "worker", "-w", "workers.worker.Worker", "--burst", "--url", redis_server.url]
            + [URGENT_QUEUE, QUEUE, WHAT_IF_QUEUE],
            cwd=ROOT,
            env=service_env(redis_server.url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]
    ran = dict(entry.decode().split(":") for entry in conn.lrange(RAN, 0, -1))
    assert set(ran) == {"urgent", "after-the-timeout", "what-if"}, log.read_text()[-3000:]
    assert ran["urgent"] == ran["after-the-timeout"] == str(worker.pid), "the callers' jobs ran in the worker itself"
    assert ran["what-if"] != str(worker.pid), "a what-if replay runs in a forked work-horse"
    stuck = Job.fetch(stuck.id, connection=conn)
    assert stuck.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in (stuck.latest_result().exc_string or ""), "stopped by its timeout, in process"
