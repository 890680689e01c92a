"""Failed sign-ins and failed bearer tokens, counted per client address in Redis so every web
process shares the count (issue 11: rate-limit failed sign-ins). A success is never counted; once
an address has AUTH_FAILURE_LIMIT failures in AUTH_FAILURE_WINDOW_SECONDS it is refused (429, with
Retry-After) until the window ends, even with a good token, so guessing gains nothing. Redis down:
the check lets the request through to the token comparison (which needs no Redis) rather than
locking every person out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from telephony.adapters.store import Store

log = logging.getLogger(__name__)


@dataclass
class AuthFailures:
    store: Store
    limit: int
    window_seconds: int

    def retry_after(self, client: str) -> int | None:
        """Seconds this address must wait, or None when it may try."""
        try:
            count, ttl = self.store.auth_failures(client, self.limit)
        except redis.RedisError as exc:
            log.warning("failed sign-ins cannot be counted (Redis: %s); not limiting", exc)
            return None
        return ttl if count >= self.limit else None

    def failed(self, client: str) -> None:
        try:
            count = self.store.count_auth_failure(client, self.window_seconds)
        except redis.RedisError:
            return
        if count == self.limit:
            # The address goes in its own field: the message's number masking would take an IP
            # address for a phone number.
            log.warning(
                "%d failed sign-ins or tokens from one address in %d s: refusing it until the window ends",
                count,
                self.window_seconds,
                extra={"client_address": client},
            )
