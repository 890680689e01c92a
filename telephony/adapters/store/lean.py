"""The Redis client every process uses: redis-py's, with a shorter road for one command at a time.
Borrowing a pooled connection (a lock, a readiness poll of the socket, redis-py's usage counters
on the way out and back) and its retry wrapper cost about as much CPU as the round trip itself:
a third of a webhook's own work (bench/profiles, docs/benchmarks.md). Here a command takes an idle
connection from a plain list (atomic in CPython, no lock), sends, parses the answer with redis-py's
own reply callbacks and puts the connection back. Anything that goes wrong on that road (the
connection dropped, timed out, a fail-over) disconnects it and hands the command to
redis-py's ordinary path, which retries, finds a new master behind Sentinel and raises as before.
Pipelines, pub/sub and scripts' loading are redis-py's own, unchanged."""

from __future__ import annotations

import os
from typing import Any

import redis
from redis.connection import ConnectionInterface


class LeanRedis(redis.Redis):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[ConnectionInterface] = []
        self._pid = os.getpid()

    def execute_command(self, *args: Any, **options: Any) -> Any:
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
        except (redis.ConnectionError, redis.TimeoutError, OSError):
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
