"""The RQ worker class the service runs (`rq worker -w workers.worker.Worker`): it builds the core
and imports the jobs once, before forking a work-horse per job."""

from __future__ import annotations

import logging

import redis
import rq

import workers.jobs  # noqa: F401  (imported before the fork, so every horse has them)
from workers import runtime


class Worker(rq.Worker):
    """`rq worker -w workers.worker.Worker`: the jobs' modules and the core (settings, policy,
    Redis, Twilio client) are ready in the worker before it forks a work-horse per job. With
    RQ's plain Worker every horse imported and built them again, about 1.5 s of every job, so
    under load check-ins, hold limits and callback dials ran late (found by tests/chaos). If
    Redis does not answer yet, the horses build the core themselves as before.

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
            logging.getLogger("workers").warning("Redis does not answer yet (%s); each job builds the core", exc)
