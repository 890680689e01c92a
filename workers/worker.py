"""The RQ worker class the service runs (`rq worker -w workers.worker.Worker`): it builds the core
and imports the jobs once, and runs the callers' jobs in its own process (issue 19)."""

from __future__ import annotations

import logging

import redis
import rq
from rq.defaults import DEFAULT_WORKER_TTL
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

import workers.commands  # noqa: F401  (the table and its handlers, imported once, in the worker)
from telephony.adapters.timers import WHAT_IF_QUEUE
from workers import runtime


class Worker(rq.Worker):
    """`rq worker -w workers.worker.Worker`: the jobs' modules and the core (settings, policy,
    Redis, Twilio client) are ready in the worker before its first job. With RQ's plain Worker
    every job imported and built them again, about 1.5 s of every job, so under load check-ins,
    hold limits and callback dials ran late (found by tests/chaos). If Redis does not answer
    yet, the first job builds the core.

    The callers' jobs (check-ins, hold limits, dials, notices) run in this process, as RQ's
    SimpleWorker runs them, not in a work-horse forked per job: the fork, its copied pages and
    a new Redis and Twilio connection for every job were about 40% of the workers' CPU under
    10,000 callbacks and the reason dials fell behind at 333 a second (bench/RESULTS.md,
    docs/benchmarks.md). What a horse protected against is covered without it: a job's timeout
    is RQ's alarm in this process, and a worker killed mid-job (with or without a horse, the
    job is lost either way) is recovered by the service's own sweeps (R-CB-8, tests/chaos). A
    what-if replay (WHAT_IF_QUEUE) still gets a horse of its own: it runs for minutes and
    builds a whole simulated day, which should not stay in the worker's memory.

    While Redis is away RQ waits 1, 2, 4 ... up to 60 s between tries; after an outage of a
    minute a worker could sleep most of another minute with Redis back and callers waiting. Here
    it tries again at least every 5 s."""

    max_connection_wait_time = 5.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            runtime.organisations()  # every organisation's core (core() alone needs a job's organisation)
        except redis.RedisError as exc:
            runtime.use(None)
            logging.getLogger("workers").warning("Redis does not answer yet (%s); the first job builds the core", exc)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if self._forks(job):
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """In process nothing beats while the job runs: the job's timeout and a minute more, as
        RQ's SimpleWorker gives (a horse's parent beats every job_monitoring_interval)."""
        if self._forks(job):
            return super().get_heartbeat_ttl(job, working_time)
        return DEFAULT_WORKER_TTL if job.timeout == -1 else int(job.timeout or DEFAULT_WORKER_TTL) + 60

    @staticmethod
    def _forks(job: Job) -> bool:
        return job.origin == WHAT_IF_QUEUE
