"""Reaching Redis: the one connection every process (web, RQ worker, scheduler) makes, through
REDIS_URL or Redis Sentinel, and the check that it keeps what it is told (R-CB-8)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from telephony.adapters.store.lean import FailFast, LeanRedis

if TYPE_CHECKING:
    from telephony.config import Settings


def persistence_problem(conn: redis.Redis) -> tuple[str, bool]:
    """What this Redis would lose on a restart: ("", False) when it writes an append-only file;
    (why, fatal) otherwise. A booked callback has been confirmed to the caller (R-CB-8), so a
    Redis that keeps nothing is refused; snapshots only, or a Redis that will not say, is warned."""
    try:
        config = conn.config_get("appendonly")
        config.update(conn.config_get("save"))
    except redis.ResponseError as exc:
        return f"cannot read Redis's persistence settings ({exc}); make sure it has appendonly yes", False
    aof = str(config.get("appendonly", "")).lower() == "yes"
    snapshots = bool(str(config.get("save", "")).strip())
    if aof:
        return "", False
    if snapshots:
        return (
            "Redis keeps snapshots only (appendonly no): changes since the last one are lost on a crash; set appendonly yes",
            False,
        )
    return (
        "Redis has no persistence (appendonly no, no save points): a restart would lose booked callbacks; set appendonly yes",
        True,
    )


# The web processes (issue 34): Twilio waits 15 s for a webhook, and a caller on hold hears
# nothing while it waits, so each webhook answers within WEBHOOK_BUDGET_SECONDS, its fallback if
# Redis is slow. One command waits at most WEB_SOCKET_TIMEOUT_SECONDS, is never retried on a
# timeout, and after one timed out the others fail at once for FAIL_FAST_PAUSE_SECONDS
# (lean.FailFast), so a frozen Redis cannot take every gunicorn thread.
WEBHOOK_BUDGET_SECONDS = 2.0
WEB_SOCKET_TIMEOUT_SECONDS = 1.0
WEB_CONNECT_TIMEOUT_SECONDS = 0.5
FAIL_FAST_PAUSE_SECONDS = 1.0


def web_options() -> dict[str, Any]:
    return {
        "socket_timeout": WEB_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": WEB_CONNECT_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }


def connect(settings: Settings, *, fail_fast: bool = False) -> redis.Redis:
    """The one way every process (web, RQ worker, scheduler) reaches the state's Redis: REDIS_URL,
    through Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), whose client finds the current
    master again after a fail-over, or a Redis Cluster (REDIS_CLUSTER_URL), whose client follows
    its slots to whichever node holds them. Raises ConnectionError with one line when nothing answers.
    `fail_fast` (the web processes): short timeouts, no retry, and FailFast after a timeout."""
    if settings.redis_cluster_url:
        cluster: redis.Redis = RedisCluster.from_url(  # type: ignore[assignment]
            settings.redis_cluster_url,
            socket_timeout=WEB_SOCKET_TIMEOUT_SECONDS if fail_fast else 5,
            socket_connect_timeout=WEB_CONNECT_TIMEOUT_SECONDS if fail_fast else 2,
        )
        return cluster
    if settings.redis_sentinels:
        return sentinel_master(settings.redis_sentinels, settings.redis_sentinel_master, fail_fast=fail_fast)
    if not settings.redis_url:
        raise ConnectionError("neither REDIS_URL nor REDIS_SENTINELS is set")
    return _lean(LeanRedis.from_url(settings.redis_url, **(web_options() if fail_fast else {})), fail_fast)


def connect_queues(settings: Settings, state: redis.Redis, *, fail_fast: bool = False) -> redis.Redis:
    """RQ's queues, the timers and the scheduler's lease: one node (QUEUE_REDIS_URL), or the
    state's own Redis when that is one node too."""
    if settings.queue_redis_url:
        return _lean(LeanRedis.from_url(settings.queue_redis_url, **(web_options() if fail_fast else {})), fail_fast)
    return state


def _lean(conn: redis.Redis, fail_fast: bool) -> redis.Redis:
    if fail_fast and isinstance(conn, LeanRedis):
        conn.fail_fast = FailFast(FAIL_FAST_PAUSE_SECONDS)
    return conn


def sentinel_master(
    sentinels: Iterable[tuple[str, int]], master: str, *, fail_fast: bool = False, **kwargs: Any
) -> redis.Redis:
    sentinel = Sentinel(
        list(sentinels),
        socket_timeout=2,
        sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1},
        socket_connect_timeout=2,
        **kwargs,
    )
    options: dict[str, Any] = web_options() if fail_fast else {"socket_timeout": 5, "socket_connect_timeout": 2}
    return _lean(sentinel.master_for(master, redis_class=LeanRedis, **options), fail_fast)
