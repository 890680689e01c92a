"""What a lead sees of the machinery (issue 11, the console's equivalent of rq-dashboard): per RQ
queue how many jobs are queued, scheduled (timers not yet due: check-ins, hold limits, callback
dials), started, failed and deferred, the managers' what-if replays' queue too; every worker with
its state and last heartbeat; and which scheduler holds the lease that moves the timers. One set of
workers serves every organisation of the deployment: the counts are the deployment's totals, and a
worker's current job is named only when it works for the lead's own organisation (issue 35). All of it
is on the queues' Redis (the timers' connection: on a cluster deployment a node of its own, not the
organisations' state). Read only: nothing here changes a job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rq import Queue, Worker
from rq.job import Job
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from telephony.adapters.store import keys
from telephony.adapters.store.base import text
from telephony.adapters.timers import QUEUES, WHAT_IF_QUEUE, job_organisations
from telephony.clock import iso
from telephony.context import Context

SCHEDULER_LEASE_KEY = keys.SCHEDULER_LEASE


def queue_view(ctx: Context) -> dict[str, Any]:
    conn = ctx.timers.conn
    now = datetime.now(UTC)
    queues = []
    for name in (*QUEUES, WHAT_IF_QUEUE):
        queue = Queue(name, connection=conn)
        queues.append(
            {
                "name": name,
                "queued": queue.count,
                "scheduled": ScheduledJobRegistry(queue=queue).count
                + (ctx.timers.waiting() if name == ctx.timers.queue.name else 0),
                "started": StartedJobRegistry(queue=queue).count,
                "failed": FailedJobRegistry(queue=queue).count,
                "deferred": DeferredJobRegistry(queue=queue).count,
            }
        )
    workers = []
    for worker in sorted(Worker.all(connection=conn), key=lambda w: w.name):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        job = worker.get_current_job_id()
        if job is not None and not _of_organisation(job, conn, ctx.timers.organisation):
            job = None
        workers.append(
            {
                "name": worker.name,
                "state": str(worker.get_state()),
                "queues": worker.queue_names(),
                "last_heartbeat": iso(beat),
                "seconds_since_heartbeat": round((now - beat).total_seconds(), 1) if beat else None,
                "current_job": job,
            }
        )
    holder = conn.get(SCHEDULER_LEASE_KEY)
    return {
        "queues": queues,
        "workers": workers,
        "scheduler": text(holder) if holder else None,
        "at": iso(now),
    }


def _of_organisation(job_id: str, conn: Any, organisation: str) -> bool:
    """Whether the job works for this organisation alone (a batch of due timers may hold several's)."""
    [job] = Job.fetch_many([job_id], connection=conn)
    return job is not None and job_organisations(job) == {organisation}
