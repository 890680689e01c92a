"""Redis unreachable: one log line when the outage starts and one when it ends, not a traceback
for every request in between."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("routes.store")


class StoreOutage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failed_requests = 0

    def failed(self, exc: Exception) -> None:
        with self._lock:
            self.failed_requests += 1
            first = self.failed_requests == 1
        if first:
            log.error(
                "store unavailable: Redis does not answer (%s); answering 503 and the fallback until it does", exc
            )

    def answered(self) -> None:
        """A request got through to Redis: if an outage was going on, it is over."""
        if not self.failed_requests:
            return
        with self._lock:
            failed, self.failed_requests = self.failed_requests, 0
        if failed:
            log.warning("store reachable again after %d failed requests", failed)
