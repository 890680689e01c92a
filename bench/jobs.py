"""A timer job for the lateness benchmark: records how late it ran against its due time."""

from __future__ import annotations

import os
import time

import redis


def late(due: float) -> None:
    conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    conn.rpush("bench:lateness", f"{time.time() - due:.4f}")
