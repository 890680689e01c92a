"""Everything timed (check-ins, hold limits, callback dials, deadlines) is an RQ job scheduled with
RQ's own scheduler (`enqueue_at`, `rq worker --with-scheduler`). On the simulator's virtual clock
`release_due` does the scheduler's work against virtual time, so the same jobs run."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from telephony.clock import Clock

QUEUE = "escalations"
# Work a caller is waiting on (ringing their agent, telling a lead) goes here, and every worker
# takes it before anything else: `rq worker escalations-urgent escalations`.
URGENT_QUEUE = "escalations-urgent"
QUEUES = (URGENT_QUEUE, QUEUE)
RETRY = Retry(max=3, interval=[5, 30, 120])
# A step Twilio could not do (take a caller off hold, ring a lead) is tried again on the
# virtual-clock-aware scheduler, sooner first, then every 2 minutes for as long as it matters.
AGAIN_AFTER_SECONDS = (5, 15, 30, 60, 120)
TELL_PEOPLE_AFTER_TRIES = 3


def job_id(*parts: object) -> str:
    """A deterministic id, so scheduling the same timer twice keeps one job."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(str(p) for p in parts))


class Timers:
    def __init__(self, conn: redis.Redis, clock: Clock, queue_name: str = QUEUE):
        self.conn = conn
        self.clock = clock
        self.queue = Queue(queue_name, connection=conn)
        self.urgent = Queue(URGENT_QUEUE, connection=conn)

    def at(self, when: datetime, func: str, *args: object, key: str | None = None) -> Job:
        return self.queue.enqueue_at(when, func, *args, job_id=key, retry=RETRY)

    def soon(self, func: str, *args: object, key: str | None = None) -> Job:
        return self.queue.enqueue(func, *args, job_id=key, retry=RETRY)

    def right_away(self, func: str, *args: object) -> Job:
        """Twilio work a webhook must not wait for: the webhook answers from Redis alone and a
        worker makes the REST call the moment the response is sent (issue 8: no dead air)."""
        return self.urgent.enqueue(func, *args, retry=RETRY)

    def queues(self) -> list[Queue]:
        return [self.urgent, self.queue]

    def again(self, func: str, *args: object, tries: int, key: str) -> datetime:
        """Schedule the next try of a step that has failed `tries` times (the job is called with
        `tries` last); its own job id, so a duplicate of the failed job does not schedule it twice."""
        delay = AGAIN_AFTER_SECONDS[min(tries, len(AGAIN_AFTER_SECONDS)) - 1]
        when = self.clock.now() + timedelta(seconds=delay)
        self.at(when, func, *args, tries, key=job_id(key, "try", tries))
        return when

    def release_due(self) -> int:
        """Move every job due by the clock's now into the queue (what the RQ scheduler does)."""
        registry = ScheduledJobRegistry(queue=self.queue)
        ids = registry.get_jobs_to_schedule(int(self.clock.now().timestamp()))
        released = 0
        for key, job in zip(ids, Job.fetch_many(ids, connection=self.conn), strict=True):
            # One MULTI: a scheduler killed between taking a timer off the registry and queueing
            # it would otherwise lose it (a check-in, a callback dial: R-CB-8).
            with self.conn.pipeline(transaction=True) as pipe:
                pipe.multi()
                registry.remove(key, pipeline=pipe)
                if job is not None:
                    self.queue.enqueue_job(job, pipeline=pipe)
                pipe.execute()
            released += job is not None
        return released

    def scheduled(self) -> list[tuple[str, datetime]]:
        registry = ScheduledJobRegistry(queue=self.queue)
        times = []
        for key in registry.get_job_ids():
            when = registry.get_scheduled_time(key)
            times.append((key, when if when.tzinfo else when.replace(tzinfo=UTC)))
        return times
