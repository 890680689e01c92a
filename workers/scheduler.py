"""`python -m workers.scheduler`: moves every due timer (check-ins, hold limits, callback dials,
deadlines, retries) onto the RQ queue in batches (telephony/adapters/timers.py), on the service's clock.

RQ's own scheduler (`rq worker --with-scheduler`) holds a lock for 61 s and a worker that could
not take it tries again only every 10 minutes; its scheduler process also dies when Redis
restarts. So after a `kill -9` and a restart, or a Redis restart, nothing timed ran for 10
minutes. This loop holds a short lease instead (LEASE_SECONDS, renewed every TICK_SECONDS): run
it beside every worker, one of them moves the timers, and when that one dies another (or its own
restart) takes over within seconds. Redis going away is waited out, never fatal."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid

import redis

from telephony.adapters.store import keys
from telephony.console.queues import SCHEDULER_LEASE_KEY as LEASE_KEY

WAKE_KEY = keys.timers_wake()
LEASE_SECONDS = 5
TICK_SECONDS = 0.2  # a due timer waits at most this long for the scheduler
HOUSEKEEPING_SECONDS = 5  # how often the lease holder makes sure the callback sweeper is alive

log = logging.getLogger("workers.scheduler")

_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class Scheduler:
    def __init__(
        self, conn: redis.Redis, timers, name: str | None = None, housekeeping=None, tick_seconds: float = TICK_SECONDS
    ):
        self.conn = conn
        self.tick_seconds = tick_seconds
        self.timers = timers
        self.housekeeping = housekeeping
        self._next_housekeeping = 0.0
        self.name = name or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._renew = conn.register_script(_RENEW)
        self.stopping = False
        self.leading = False
        self._wake: redis.client.PubSub | None = None

    def tick(self) -> int:
        """One round: hold or take the lease, then release what is due. Returns jobs moved."""
        if self._renew(keys=[LEASE_KEY], args=[self.name, int(LEASE_SECONDS * 1000)]) != 1:
            if self.leading:
                log.warning("scheduler %s lost the lease; another scheduler moves the timers", self.name)
            self.leading = False
            return 0
        if not self.leading:
            log.info("scheduler %s holds the lease and moves the timers", self.name)
        self.leading = True
        moved = self.timers.release_due()
        if self.housekeeping is not None and time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
            self.housekeeping()
        return moved

    def run(self) -> None:
        outage = False
        while not self.stopping:
            try:
                self.tick()
                if outage:
                    log.warning("scheduler %s: Redis answers again", self.name)
                    outage = False
            except redis.RedisError as exc:
                if not outage:
                    log.error("scheduler %s: Redis does not answer (%s); waiting for it", self.name, exc)
                outage, self.leading = True, False
            self.wait()
        self._close_wake()
        self.release()

    def wait(self) -> None:
        """Until the next tick, or sooner when a webhook has left work due now (the caller's
        agent to ring: keys.timers_wake), so that work waits milliseconds, not a tick."""
        if not self.leading:
            self._close_wake()
            time.sleep(self.tick_seconds)
            return
        try:
            if self._wake is None:
                self._wake = self.conn.pubsub(ignore_subscribe_messages=True)
                self._wake.subscribe(WAKE_KEY)
            # The client's own timeout (select), not a blocking command's: Redis checks those only
            # every 100 ms, which made every tick up to half as long again.
            if self._wake.get_message(timeout=self.tick_seconds) is not None:
                while self._wake.get_message(timeout=0) is not None:
                    pass
        except redis.RedisError:
            self._close_wake()
            time.sleep(self.tick_seconds)

    def _close_wake(self) -> None:
        if self._wake is not None:
            try:
                self._wake.close()
            except redis.RedisError:
                pass
            self._wake = None

    def release(self) -> None:
        try:
            if self.conn.get(LEASE_KEY) == self.name.encode():
                self.conn.delete(LEASE_KEY)
        except redis.RedisError:
            pass


def main() -> None:
    from telephony.config import ConfigError
    from telephony.policy.errors import PolicyError
    from workers.runtime import organisations

    try:
        served = organisations()
    except (ConfigError, PolicyError, RuntimeError) as exc:
        raise SystemExit(f"cannot start: {exc}") from None

    tick = os.environ.get("SCHEDULER_TICK_SECONDS", "").strip() or str(TICK_SECONDS)
    try:
        tick_seconds = float(tick)
    except ValueError:
        tick_seconds = 0.0
    if not 0.01 <= tick_seconds <= LEASE_SECONDS / 2:
        raise SystemExit(
            f"cannot start: SCHEDULER_TICK_SECONDS must be a number of seconds from 0.01 to {LEASE_SECONDS / 2}"
        )
    def housekeeping() -> None:
        for org_core in served.all():
            org_core.callback_sweeper.ensure()
            org_core.events.sweep()
            org_core.ensure_reconciler()

    # Every organisation's timers are in one sorted set beside RQ: any core's Timers moves them all.
    timers = served.all()[0].ctx.timers
    scheduler = Scheduler(timers.conn, timers, housekeeping=housekeeping, tick_seconds=tick_seconds)

    def stop(*_):
        scheduler.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.run()


if __name__ == "__main__":
    main()
