"""The RQ worker class every deployment runs (`rq worker -w workers.worker.Worker`).

RQ's worker forks a work horse for each job; a horse that has to build the core (read and check
the policy, the Twilio client, the Redis scripts) spends most of a short job doing it. This
worker builds it once at start-up, so every horse inherits it ready (bench/RESULTS.md), and a
bad setting stops the worker at once with one line instead of failing every job."""

from __future__ import annotations

from rq import Worker as RqWorker

from workers.runtime import core


class Worker(RqWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        core()
