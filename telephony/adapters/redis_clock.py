"""The simulator's virtual clock, shared through Redis by every process of a simulated run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from telephony.adapters.store import keys


class RedisClock:
    """Virtual time shared by every process of a simulated run (web, worker, simulator): the
    simulator writes the time to Redis and everyone reads it. Real time until it is first set."""

    KEY = keys.CLOCK_NOW

    def __init__(self, conn: redis.Redis):
        self.conn = conn

    def now(self) -> datetime:
        value = self.conn.get(self.KEY)
        if value is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(float(value), UTC)

    def set(self, when: datetime) -> None:
        self.conn.set(self.KEY, repr(when.timestamp()))

    def advance(self, seconds: float) -> datetime:
        new = self.now() + timedelta(seconds=seconds)
        self.set(new)
        return new
