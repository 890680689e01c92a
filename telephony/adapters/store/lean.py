"""The Redis client every process uses: redis-py's, with a shorter road for one command at a time.
Borrowing a pooled connection (a lock, a readiness poll of the socket, redis-py's usage counters
on the way out and back) and its retry wrapper cost about as much CPU as the round trip itself:
a third of a webhook's own work (bench/profiles, docs/benchmarks.md). Here a command takes an idle
connection from a plain list (atomic in CPython, no lock), sends, parses the answer with redis-py's
own reply callbacks and puts the connection back. Anything that goes wrong on that road (the
connection dropped, timed out, a fail-over) disconnects it and hands the command to
redis-py's ordinary path, which retries, finds a new master behind Sentinel and raises as before.
Pipelines, pub/sub and scripts' loading are redis-py's own, unchanged.

The web processes' client fails fast (`FailFast`, issue 34): a Redis that is slow or frozen (a
long fork, a slow disk, a partition) must not hold Twilio's webhooks past their budget, nor take
every gunicorn thread so that the fallback and /health wait behind it."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import redis
from redis.connection import ConnectionInterface


class FailFast:
    """After a command timed out, every command fails at once for `pause` seconds, then one (the
    first to come) asks Redis again: a frozen Redis costs one thread a socket timeout per pause,
    not every thread a timeout per command. A command that answers closes it again."""

    def __init__(self, pause: float = 1.0) -> None:
        self.pause = pause
        self._until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        if not self._until:
            return
        now = time.monotonic()
        with self._lock:
            if now >= self._until:
                self._until = now + self.pause  # this command asks; the others still fail fast
                return
        raise redis.ConnectionError("Redis timed out a moment ago; not asked again until the pause ends")

    def timed_out(self) -> None:
        self._until = time.monotonic() + self.pause

    def answered(self) -> None:
        if self._until:
            self._until = 0.0


class LeanRedis(redis.Redis):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[ConnectionInterface] = []
        self._pid = os.getpid()
        self.fail_fast: FailFast | None = None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.fail_fast is None:
            return self._execute(*args, **options)
        self.fail_fast.check()
        try:
            result = self._execute(*args, **options)
        except redis.TimeoutError:
            self.fail_fast.timed_out()
            raise
        self.fail_fast.answered()
        return result

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        if self.fail_fast is not None:
            self.fail_fast.check()
        return super().pipeline(transaction, shard_hint)

    def _execute(self, *args: Any, **options: Any) -> Any:
        if self.connection is not None or self._single_connection_client:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        if self._pid != os.getpid():  # a forked child (an RQ work horse): never the parent's sockets
            self._idle, self._pid = [], os.getpid()
            self.connection_pool.reset()
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self.connection_pool.make_connection()
        try:
            result = self._send_command_parse_response(conn, args[0], *args, **options)  # type: ignore[no-untyped-call]
        except redis.ResponseError:
            self._idle.append(conn)  # the whole reply was read: the connection is clean
            raise
        except redis.TimeoutError:
            conn.disconnect()  # a reply may still come: never read it as the next command's
            self._idle.append(conn)
            if self.fail_fast is not None:
                raise  # a slow Redis is not asked again at once: the caller's budget is spent
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, OSError):
            conn.disconnect()  # kept, and connected again when next used: the pool's count stays
            self._idle.append(conn)
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except BaseException:
            conn.disconnect()  # interrupted half-way: a reply may still be on its way
            self._idle.append(conn)
            raise
        self._idle.append(conn)
        return result

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()
        super().close()
