"""Issue 11, two of each: 2 gunicorn processes, 2 RQ workers and the scheduler on one Redis take a
whole business day of calls (the virtual clock compresses it), two callers at a time, every
request sent to the next web process in turn. Every escalation ends as its story says, every callback is dialled once (the lead,
then the caller: R-CB-4, R-CB-8), and no request gets a 5xx."""

from __future__ import annotations

from datetime import datetime

import redis

from tests.day import STORIES, Day
from tests.fleet import Fleet, FleetHarness, fleet_env

CALLS = 96
AT_ONCE = 2  # two callers at a time, one per agent of the default policy
DAY_START = datetime.fromisoformat("2026-11-24T14:05:00+00:00")  # 08:05 in Chicago, a Tuesday: open 08:00-17:00
DAY_SECONDS = 8.5 * 3600  # the last call at 16:25, inside business hours


def test_two_web_processes_and_two_workers_take_a_days_calls_round_robin__R_CB_4_R_CB_8(
    redis_server, twilio_stand_in, tmp_path
):
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    env = fleet_env({"REDIS_URL": redis_server.url}, twilio_stand_in.url)
    twilio_stand_in.fake.mock.add_passthru("http://127.0.0.1")  # the test's own requests to the fleet
    fleet = Fleet(env, tmp_path / "logs", web=2, workers=2).start()
    try:
        harness = FleetHarness(conn, twilio_stand_in.fake, fleet.bases, fleet)
        harness.clock.set(DAY_START)
        day = Day(harness)
        for n in range(0, CALLS, AT_ONCE):
            day.calls_at_once([STORIES[(n + k) % len(STORIES)] for k in range(AT_ONCE)])
            day.advance(DAY_SECONDS / CALLS * AT_ONCE)
        day.advance(3600)
        counts = day.check()
    finally:
        fleet.stop()
    served = harness.client.served
    print(f"\ntwo of each: {CALLS} calls, {sum(served.values())} requests {served}, statuses {harness.client.statuses}")
    print(f"stories {counts}")
    assert not day.problems, "\n".join(day.problems[:20])
    assert not harness.client.server_errors, harness.client.server_errors[:10]
    assert len(day.stories) == CALLS and counts["callbacks_dialled_once"] == len(day.callbacks) == CALLS // 4
    assert all(n > 0.4 * sum(served.values()) for n in served.values()), served
