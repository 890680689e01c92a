"""A timer job for the lateness benchmark: records how late it ran against its due time."""

from __future__ import annotations

import os
import time

import redis


def late(due: float) -> None:
    conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    conn.rpush("bench:lateness", f"{time.time() - due:.4f}")


_conn: redis.Redis | None = None  # one per work-horse: a batch's timers share it


def timed(kind: str, due: float, func: str, *args) -> None:
    """A real timer job (a check-in, a hold limit) that first records how late it started."""
    global _conn
    from rq.utils import import_attribute

    conn = _conn = _conn or redis.Redis.from_url(os.environ["REDIS_URL"])
    conn.rpush(f"bench:lateness:{kind}", f"{time.time() - due:.4f}")
    import_attribute(func)(*args)
