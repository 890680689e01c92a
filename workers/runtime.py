"""The core a worker process uses: built once from the environment, or handed in (tests, the
simulator) when the worker runs in the same process as the web service."""

from __future__ import annotations

import logging

import rq

from telephony.core import Core

_core: Core | None = None


def use(core: Core | None) -> None:
    global _core
    _core = core


def core() -> Core:
    global _core
    if _core is None:
        from telephony.adapters.store import connect, persistence_problem
        from telephony.config import Settings, check_persistence
        from telephony.core import build_core
        from telephony.logs import configure_logging

        configure_logging()
        settings = Settings.from_env()
        if settings.redis_url is None and not settings.redis_sentinels:
            raise RuntimeError(
                "REDIS_URL or REDIS_SENTINELS must be set for a worker: it shares the web service's Redis"
            )
        conn = connect(settings)
        check_persistence(settings, persistence_problem(conn), logging.getLogger("workers"))
        _core = build_core(settings, conn)
    return _core


class Worker(rq.Worker):
    """`rq worker -w workers.runtime.Worker`: the jobs' modules and the core (settings, policy,
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
        import redis

        import workers.jobs  # noqa: F401

        try:
            core()
        except redis.RedisError as exc:
            global _core
            _core = None
            logging.getLogger("workers").warning("Redis does not answer yet (%s); each job builds the core", exc)
