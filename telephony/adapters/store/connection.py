"""Reaching Redis: the one connection every process (web, RQ worker, scheduler) makes, through
REDIS_URL or Redis Sentinel, and the check that it keeps what it is told (R-CB-8)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from telephony.adapters.store.lean import LeanRedis

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


def connect(settings: Settings) -> redis.Redis:
    """The one way every process (web, RQ worker, scheduler) reaches the state's Redis: REDIS_URL,
    through Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), whose client finds the current
    master again after a fail-over, or a Redis Cluster (REDIS_CLUSTER_URL), whose client follows
    its slots to whichever node holds them. Raises ConnectionError with one line when nothing answers."""
    if settings.redis_cluster_url:
        cluster: redis.Redis = RedisCluster.from_url(  # type: ignore[assignment]
            settings.redis_cluster_url, socket_timeout=5, socket_connect_timeout=2
        )
        return cluster
    if settings.redis_sentinels:
        return sentinel_master(settings.redis_sentinels, settings.redis_sentinel_master)
    if not settings.redis_url:
        raise ConnectionError("neither REDIS_URL nor REDIS_SENTINELS is set")
    return LeanRedis.from_url(settings.redis_url)


def connect_queues(settings: Settings, state: redis.Redis) -> redis.Redis:
    """RQ's queues, the timers and the scheduler's lease: one node (QUEUE_REDIS_URL), or the
    state's own Redis when that is one node too."""
    if settings.queue_redis_url:
        return LeanRedis.from_url(settings.queue_redis_url)
    return state


def sentinel_master(sentinels: Iterable[tuple[str, int]], master: str, **kwargs: Any) -> redis.Redis:
    sentinel = Sentinel(
        list(sentinels),
        socket_timeout=2,
        sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1},
        socket_connect_timeout=2,
        **kwargs,
    )
    conn: redis.Redis = sentinel.master_for(master, redis_class=LeanRedis, socket_timeout=5, socket_connect_timeout=2)
    return conn
