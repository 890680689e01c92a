"""Redis round trips per request (issue 29), beside the ratio to the floor: what one request of
each hot path sends to Redis, answered in process on the bench's Redis (a command or a script call
is one round trip, a pipeline one round trip of several commands). The agent's escalate is
counted on its 201 path as the bench's live calls are escalated (`Calls.make`), and on its 409
path (a call already escalated) with the other paths."""

from __future__ import annotations

import statistics
from typing import Any

# POST /api/escalations, 201, on the test harness before issue 29 (tests/escalation/
# test_escalate_round_trips.py): 38 round trips, 51 commands; the bound is half.
ESCALATE_BEFORE = (38, 51)


class RoundTrips:
    """Counts what one Redis client sends while inside `with`."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.trips = 0
        self.commands = 0

    def __enter__(self) -> RoundTrips:
        conn, command, pipeline = self.conn, self.conn.execute_command, self.conn.pipeline

        def counted_command(*args: Any, **options: Any) -> Any:
            self.trips += 1
            self.commands += 1
            return command(*args, **options)

        def counted_pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = pipeline(*args, **kwargs)
            execute = pipe.execute

            def counted_execute(*a: Any, **k: Any) -> Any:
                self.trips += 1
                self.commands += len(pipe.command_stack)
                return execute(*a, **k)

            pipe.execute = counted_execute
            return pipe

        conn.execute_command, conn.pipeline = counted_command, counted_pipeline
        return self

    def __exit__(self, *exc: object) -> None:
        del self.conn.execute_command
        del self.conn.pipeline


def per_request(calls: Any, kinds: tuple[str, ...], n: int = 50) -> dict[str, tuple[float, float]]:
    """(round trips, commands) per request of each path, the median of `n` in process."""
    from bench.profile import requests_for

    client = calls.client
    conn = calls.core.ctx.store.r
    out: dict[str, tuple[float, float]] = {}
    for kind in kinds:
        trips, commands = [], []
        for path, form in requests_for(calls, kind, n):
            with RoundTrips(conn) as counted:
                if isinstance(form, str):
                    calls.post_api(path, form)
                else:
                    client.post(path, data=form)
            trips.append(counted.trips)
            commands.append(counted.commands)
        out[kind] = (statistics.median(trips), statistics.median(commands))
    return out
