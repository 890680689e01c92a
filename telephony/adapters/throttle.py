"""Outbound calls per second, shared by every process through Redis (Twilio's default is 1 CPS
per account; above it Twilio queues calls and callbacks start late)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from telephony.adapters.store import keys

_TAKE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 5) end
return n
"""


LATE_SECONDS = 0.1


class OutboundThrottle:
    def __init__(
        self,
        conn: redis.Redis,
        calls_per_second: int,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if calls_per_second < 1:
            raise ValueError("calls_per_second must be at least 1")
        self.cps = calls_per_second
        self._take = conn.register_script(_TAKE)
        self._now = now
        self._sleep = sleep

    def __call__(self) -> None:
        """Wait for a free slot in the current or a later second. A slot is never taken in the
        last LATE_SECONDS of a second: that request would reach Twilio in the next one, where it
        would be one too many (found by tests/chaos, counting at the REST server)."""
        while True:
            now = self._now()
            second = int(now)
            if now - second >= 1 - LATE_SECONDS:
                self._sleep(second + 1 - now)
                continue
            if self._take(keys=[keys.calls_per_second(second)]) <= self.cps:
                return
            self._sleep(max(0.0, second + 1 - self._now()))
