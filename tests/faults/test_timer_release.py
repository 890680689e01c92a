"""R-CB-8: moving a due timer onto the queue loses none when it fails half way (here: the enqueue
fails after the timer was taken from the timers' sorted set): the timer waits in
`esc:timers-releasing` and the next tick after STUCK_RELEASING_SECONDS queues it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from rq.job import Job

from telephony.adapters.timers import RELEASING, STUCK_RELEASING_SECONDS, Timers
from telephony.clock import VirtualClock


def test_a_timer_is_not_lost_when_moving_it_fails_half_way__R_CB_8(redis_conn, monkeypatch):
    clock = VirtualClock()
    timers = Timers(redis_conn, clock)
    key = timers.at(clock.now() + timedelta(seconds=30), "workers.jobs.dial_callback", "cb_x", 1, key="dial-cb_x-1")
    clock.advance(31)

    def dies(*_args, **_kwargs):
        raise RuntimeError("the scheduler died here")

    monkeypatch.setattr(Queue, "_enqueue_job", dies)
    with pytest.raises(RuntimeError):
        timers.release_due()
    assert redis_conn.hexists(RELEASING, f"{timers.organisation}/{key}"), "the timer is still there, being released"
    assert timers.queue.count == 0

    monkeypatch.undo()
    clock.advance(STUCK_RELEASING_SECONDS + 1)
    assert timers.release_due() == 1
    [job_id] = timers.queue.job_ids
    batch = Job.fetch(job_id, connection=redis_conn).args[0]
    assert [(e["key"], e["func"], e["args"]) for e in batch] == [(key, "workers.jobs.dial_callback", ["cb_x", 1])]
    assert not redis_conn.hlen(RELEASING)
