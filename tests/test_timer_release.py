"""R-CB-8: moving a due timer onto the queue is one MULTI, so a scheduler that dies half way
(here: the enqueue fails after the timer was taken off the registry) loses no timer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from telephony.clock import VirtualClock
from telephony.timers import Timers


def test_a_timer_is_not_lost_when_moving_it_fails_half_way__R_CB_8(redis_conn, monkeypatch):
    clock = VirtualClock()
    timers = Timers(redis_conn, clock)
    job = timers.at(clock.now() + timedelta(seconds=30), "workers.jobs.dial_callback", "cb_x", 1, key="dial-cb_x-1")
    clock.advance(31)

    def dies(*_args, **_kwargs):
        raise RuntimeError("the scheduler died here")

    monkeypatch.setattr(Queue, "_enqueue_job", dies)
    with pytest.raises(RuntimeError):
        timers.release_due()
    assert job.id in ScheduledJobRegistry(queue=timers.queue).get_job_ids(), "the timer is still there"

    monkeypatch.undo()
    assert timers.release_due() == 1
    assert timers.queue.job_ids == [job.id] and not ScheduledJobRegistry(queue=timers.queue).get_job_ids()
